"""Realistic ``waddleperf report`` summaries (``summary.json``'s shape) for the renderer's tests.

:func:`make_summary` builds one as the report command would for a small fleet: agents ×
servers × probe kinds with their figures, SmokePing-style latency buckets on one shared time
axis (some with loss, one whose records were all lost, one empty), escalations, Django and
Flask load runs with the targets' profiles and their comparison, optionally a regression check,
and skipped bundles. Deterministic for a given ``seed``. :func:`empty_summary` is one with
nothing found.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

SCHEMA = "waddleperf.report.summary/1"
START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LOSSY_KINDS = {"icmp", "udp"}
REASONS = ("truncated gzip stream", "unknown schema version 9")


def iso(t: datetime) -> str:
    """RFC 3339 UTC with a Z, as the summary writes times."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _figures(rng: random.Random, kind: str, base_ms: float) -> dict[str, Any]:
    count = rng.randint(40, 400)
    throughput = rng.uniform(80e6, 940e6) if kind in ("iperf3", "http") else None
    return {
        "count": count,
        "failures": rng.randint(0, 3),
        "rtt_ms": {
            "mean": round(base_ms * 1.1, 3),
            "p50": round(base_ms, 3),
            "p95": round(base_ms * 1.8, 3),
            "p99": round(base_ms * 2.6, 3),
        },
        "loss_ratio": round(rng.uniform(0, 0.02), 4) if kind in LOSSY_KINDS else None,
        "jitter_ms": round(base_ms * 0.08, 3) if kind in LOSSY_KINDS else None,
        "throughput_bps": throughput,
    }


def _point(rng: random.Random, t: datetime, base_ms: float, i: int) -> dict[str, Any]:
    if i == 7:  # an empty bucket: the agent was not running
        return {"t": iso(t), "count": 0, "p10": None, "p25": None, "p50": None, "p75": None,
                "p90": None, "loss_ratio": None}  # fmt: skip
    if i == 12:  # every record of the bucket lost: no latency at all
        return {"t": iso(t), "count": 20, "p10": None, "p25": None, "p50": None, "p75": None,
                "p90": None, "loss_ratio": 1.0}  # fmt: skip
    median = base_ms * (1.0 + 0.3 * (i % 9 == 4)) * rng.uniform(0.9, 1.1)
    loss = (0.0, 0.0, 0.0, 0.05, 0.1, 0.0, 0.25, 0.0, 0.6)[i % 9]
    return {
        "t": iso(t),
        "count": 20,
        "p10": round(median * 0.7, 3),
        "p25": round(median * 0.85, 3),
        "p50": round(median, 3),
        "p75": round(median * 1.25, 3),
        "p90": round(median * 1.6, 3),
        "loss_ratio": loss,
    }


def _event(
    agent: str, server: str, t: datetime, from_tier: int, to_tier: int, reason: str
) -> dict[str, Any]:
    return {"agent": agent, "server": server, "t": iso(t), "from_tier": from_tier,
            "to_tier": to_tier, "reason": reason}  # fmt: skip


def _profile(rng: random.Random, agent: str, target: str, n: int) -> dict[str, Any]:
    points = [
        {
            "t": iso(START + timedelta(minutes=20, seconds=2 * i)),
            "cpu_percent": round(rng.uniform(20, 90), 1),
            "rss_bytes": int(60e6 + i * 1.5e6),
        }
        for i in range(n)
    ]
    return {"agent": agent, "target": target, "points": points}


def _load(rng: random.Random, agent: str) -> list[dict[str, Any]]:
    runs = []
    for n, (framework, p50) in enumerate((("django", 9.5), ("flask", 6.0))):
        requests = rng.randint(4000, 6000)
        runs.append(
            {
                "agent": agent,
                "target": f"http://127.0.0.1:{8001 + n}/",
                "framework": framework,
                "t": iso(START + timedelta(minutes=20 + 5 * n)),
                "requests": requests,
                "failures": rng.randint(0, 5),
                "rps": round(requests / 30, 2),
                "p50_ms": p50,
                "p95_ms": p50 * 2.5,
                "p99_ms": p50 * 4,
            }
        )
    return runs


def _regressions(probes: list[dict[str, Any]]) -> dict[str, Any]:
    rows = []
    for n, p in enumerate(probes):
        base = p["rtt_ms"]["p95"]
        current = base * (1.35 if n == 0 else 1.02)
        rows.append(
            {
                "agent": p["agent"],
                "server": p["server"],
                "kind": p["kind"],
                "metric": "p95_ms",
                "baseline": base,
                "current": round(current, 3),
                "change_ratio": round(current / base, 4),
                "rule": "current ≥ 1.20 × baseline",
                "regressed": n == 0,
            }
        )
    thresholds = {"avg_ratio": 1.1, "p95_ratio": 1.2, "error_rate_factor": 2.0}
    return {"thresholds": thresholds, "regressed": True, "rows": rows}


def make_summary(
    *,
    agents: tuple[str, ...] = ("agent-berlin", "agent-lisbon"),
    servers: tuple[str, ...] = ("srv-a", "srv-b"),
    kinds: tuple[str, ...] = ("icmp", "tcp", "http"),
    buckets: int = 24,
    bucket_s: int = 60,
    profile_points: int = 30,
    regressions: bool = False,
    skipped: int = 2,
    seed: int = 7,
) -> dict[str, Any]:
    """A summary of a small fleet's bundles (see the module's docstring)."""
    rng = random.Random(seed)
    base = {(a, s): rng.uniform(2, 40) for a in agents for s in servers}
    probes = [
        {"agent": a, "server": s, "kind": k, **_figures(rng, k, base[a, s] * (1 + 0.2 * n))}
        for a in agents
        for s in servers
        for n, k in enumerate(kinds)
    ]
    series = [
        {
            "agent": a,
            "server": s,
            "kind": "icmp",
            "bucket_s": bucket_s,
            "points": [
                _point(rng, START + timedelta(seconds=i * bucket_s), base[a, s], i)
                for i in range(buckets)
            ],
        }
        for a in agents
        for s in servers
    ]
    escalations = [
        _event(agents[0], servers[0], START + timedelta(minutes=m), f, t, r)
        for m, f, t, r in (
            (4, 1, 2, "loss 6.0 % over 3 cycles ≥ 5 %"),
            (12, 2, 3, "p95 rtt 180 ms ≥ 150 ms"),
            (20, 3, 1, "quiet for 5 cycles"),
        )
    ]
    load = [run for a in agents[:1] for run in _load(rng, a)]
    profiling = [_profile(rng, agents[0], r["target"], profile_points) for r in load]
    end = START + timedelta(seconds=buckets * bucket_s)
    return {
        "schema": SCHEMA,
        "generated_at": iso(end + timedelta(minutes=5)),
        "sources": ["s3://fleet-results/waddleperf/", "/var/lib/waddleperf/results"],
        "filters": {"since": iso(START), "agent": None},
        "window": {"first": iso(START), "last": iso(end)},
        "totals": {
            "bundles": 1440,
            "results": sum(p["count"] for p in probes),
            "agents": len(agents),
            "servers": len(servers),
            "events": len(escalations),
            "load_runs": len(load),
        },
        "probes": probes,
        "geo": {
            "country": [
                {"country": "DE", **_figures(rng, "icmp", 12.0)},
                {"country": None, **_figures(rng, "icmp", 30.0)},
            ],
            "asn": [
                {"asn": 3320, "org": "Deutsche Telekom AG", **_figures(rng, "icmp", 12.0)},
                {"asn": None, "org": None, **_figures(rng, "icmp", 30.0)},
            ],
        },
        "latency_series": series,
        "escalations": escalations,
        "load": load,
        "profiling": profiling,
        "comparison": {
            "a": "django",
            "b": "flask",
            "rows": [
                {"metric": "rps", "a": 150.0, "b": 240.0, "ratio": 1.6},
                {"metric": "p95_ms", "a": 23.75, "b": 15.0, "ratio": 0.6316},
                {"metric": "error_ratio", "a": 0.001, "b": 0.0, "ratio": 0.0},
            ],
        },
        "regressions": _regressions(probes) if regressions else None,
        "data_quality": {
            "skipped": skipped,
            "bundles": [
                {"source": f"/var/lib/waddleperf/results/bad-{n}.tar.gz", "reason": REASONS[n % 2]}
                for n in range(skipped)
            ],
        },
    }


def empty_summary() -> dict[str, Any]:
    """A summary of sources in which nothing was found."""
    return {
        "schema": SCHEMA,
        "generated_at": iso(START),
        "sources": ["/tmp/nothing-here"],
        "filters": {},
        "window": {"first": None, "last": None},
        "totals": {
            k: 0 for k in ("bundles", "results", "agents", "servers", "events", "load_runs")
        },
        "probes": [],
        "geo": {"country": [], "asn": []},
        "latency_series": [],
        "escalations": [],
        "load": [],
        "profiling": [],
        "comparison": None,
        "regressions": None,
        "data_quality": {"skipped": 0, "bundles": []},
    }


SCRIPT_AGENT = "<script>window.__pwned = 1</script>"
IMG_SERVER = '<img src="http://127.0.0.1:9/x.png" onerror="window.__pwned = 2">'
HOSTILE_REASON = "</script><script>window.__pwned = 3</script> | [x](javascript:alert(1))"


def hostile_summary() -> dict[str, Any]:
    """A summary whose names come from a hostile field: markup, a ``</script>`` that would end
    the page's data block, pipes and newlines that would break a Markdown table, ``$`` that
    matplotlib would read as mathematics. Every output must show them as plain text."""
    summary = make_summary(
        agents=(SCRIPT_AGENT, "agent\nwith | pipe"),
        servers=(IMG_SERVER, "srv $x^2$"),
        regressions=True,
    )
    for event in summary["escalations"]:
        event["reason"] = HOSTILE_REASON
    summary["data_quality"]["bundles"][0]["reason"] = HOSTILE_REASON
    summary["geo"]["asn"][0]["org"] = SCRIPT_AGENT
    summary["comparison"]["a"] = SCRIPT_AGENT
    summary["sources"].append("s3://bucket/<b>bold</b>")
    summary["filters"]["agent"] = SCRIPT_AGENT
    return summary
