"""A synthetic fleet's bundles, written with the project's own bundle writer.

Each bundle is one AutoPerf cycle of one agent against every server, as the default
configuration (``vars/base.yml``) runs it: tier 1 runs its probes (icmp, tcp, udp, http, dns —
one record each per server) with the metric names and sample shapes the real probes write.
Every ``tier2_every``-th cycle of an agent, its first server breaches: an escalation event and
the tier-2 diagnostics (trace, mtu, the long udp run, iperf, speedtest; ssh is skipped, no ssh
section), held for one to three cycles (``max_cycles: 3``), then a de-escalation event in the
next cycle, as the policy writes them. Every ``tier3_every``-th cycle goes on from tier 2 to
tier 3: a load run (Django and Flask in turn) with profiling points and tier 3's probes (iperf
up and down, rpm), then back to tier 1 the cycle after (``max_cycles: 1``). Agents carry geo
tags (country, ASN) like the agent's geo tagger writes. Values are drawn from a seeded
generator: the same spec and index give the same bundle bytes.

The layout is the local store's (``ROOT/v1/date=…/agent=…/RUN.tar.gz`` and its
``.meta.json`` sidecar), so a fleet directory is a results directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from waddleperf.profiling import ndjson
from waddleperf.results.bundle import BundleWriter
from waddleperf.results.manifest import GeoValue
from waddleperf.results.model import Result, Status
from waddleperf.results.stores import bundle_metadata, bundle_tags, hive_key
from waddleperf.results.stores.local import META_SUFFIX

T0 = datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)
COUNTRIES: tuple[tuple[str, int, str], ...] = (
    ("NL", 64500, "Example Transit"),
    ("DE", 64501, "Beispiel Netz"),
    ("US", 64502, "Sample Cable"),
    ("JP", 64503, "Rei Networks"),
    ("BR", 64504, "Rede Exemplo"),
)


@dataclass(frozen=True)
class FleetSpec:
    """What the fleet looks like: agents, servers, cycle length, how often tiers 2/3 run."""

    agents: int = 20
    servers: int = 3
    cycle_s: int = 60
    tier2_every: int = 40
    tier3_every: int = 500
    start: datetime = T0
    seed: int = 13
    #: Multiply every latency by this (a baseline and a regressed fleet differ here).
    latency_factor: float = 1.0

    def agent(self, index: int) -> str:
        return f"agent-{index % self.agents:02d}"

    def server(self, number: int) -> str:
        return f"server-{number}"

    def tier3_at(self, cycle: int) -> bool:
        """The first server goes up to tier 3 in this cycle."""
        return cycle % self.tier3_every == self.tier3_every - 1

    def escalates_at(self, cycle: int) -> bool:
        """The first server escalates from tier 1 in this cycle (to tier 2, or on to 3)."""
        return self.tier3_at(cycle) or cycle % self.tier2_every == self.tier2_every - 1

    def top_tier(self, cycle: int) -> int:
        """The highest tier the first server runs in ``cycle``: a tier-2 episode lasts one to
        three cycles (by its number), a tier-3 one a single cycle."""
        if cycle < 0:
            return 1
        if self.escalates_at(cycle):
            return 3 if self.tier3_at(cycle) else 2
        for back in (1, 2):
            start = cycle - back
            if start < 0 or self.tier3_at(start):
                return 1
            if self.escalates_at(start):
                return 2 if back < 1 + (start // self.tier2_every) % 3 else 1
        return 1


def _rtt_series(rng: random.Random, stem: str, base: float, count: int) -> dict[str, float]:
    values = sorted(max(0.01, rng.gauss(base, base * 0.15)) for _ in range(count))
    mean = sum(values) / count
    mdev = (sum((v - mean) ** 2 for v in values) / count) ** 0.5

    def q(p: float) -> float:
        return values[min(count - 1, int(p * count))]

    return {f"{stem}_min_ms": values[0], f"{stem}_avg_ms": mean, f"{stem}_max_ms": values[-1],
            f"{stem}_mdev_ms": mdev, f"{stem}_p50_ms": q(0.5), f"{stem}_p95_ms": q(0.95),
            f"{stem}_p99_ms": q(0.99)}  # fmt: skip


class _Cycle:
    def __init__(self, spec: FleetSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        self.rng = random.Random(spec.seed * 1_000_003 + index)
        self.agent = spec.agent(index)
        self.agent_no = index % spec.agents
        cycle = index // spec.agents
        self.cycle = cycle
        offset = timedelta(seconds=cycle * spec.cycle_s, milliseconds=self.agent_no * 997)
        self.start = spec.start + offset
        self.run_id = f"{spec.seed:04x}{index:028x}"
        self.clock = self.start

    def result(self, kind: str, target: str, server: str, step: str, tier: int,
               metrics: dict[str, Any], samples: list[dict[str, Any]] | None = None,
               status: Status = Status.OK, error: str | None = None,
               info: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
               seconds: float = 0.5) -> Result:  # fmt: skip
        begin = self.clock
        self.clock = begin + timedelta(seconds=seconds)
        return Result.model_validate({
            "kind": kind, "target": target, "started_at": begin, "finished_at": self.clock,
            "agent": self.agent, "tier": tier, "run_id": self.run_id, "params": params or {},
            "metrics": metrics, "info": {"server": server, "step": step, **(info or {})},
            "samples": samples, "status": status, "error": error,
        })  # fmt: skip

    def base_rtt(self, server: int) -> float:
        # Each agent × server pair has its own distance; a slow wave over the day on top.
        distance = 2.0 + 7.0 * ((self.agent_no * 7 + server * 13) % 11)
        return distance * self.spec.latency_factor

    def tier1(self, number: int) -> Iterator[Result]:
        rng, name = self.rng, self.spec.server(number)
        host = f"10.0.{number}.1"
        rtt = self.base_rtt(number)
        lost = 1 if rng.random() < 0.03 else 0
        icmp = _rtt_series(rng, "rtt", rtt, 5 - lost)
        icmp.update(jitter_ms=rtt * 0.05, sent_count=5, received_count=5 - lost,
                    lost_count=lost, loss_pct=20.0 * lost)  # fmt: skip
        samples = [{"seq": i, "rtt_ms": round(rng.gauss(rtt, rtt * 0.1), 4), "ttl": 64}
                   for i in range(5 - lost)]  # fmt: skip
        yield self.result("probe.icmp", host, name, "icmp", 1, icmp, samples,
                          Status.DEGRADED if lost else Status.OK,
                          "1 of 5 replies lost." if lost else None)  # fmt: skip
        tcp = _rtt_series(rng, "connect", rtt * 1.05, 3)
        tcp.update(attempt_count=3, ok_count=3, error_count=0, failure_pct=0.0)
        yield self.result(
            "probe.tcp",
            host,
            name,
            "tcp",
            1,
            tcp,
            [{"attempt": i, "outcome": "ok", "connect_ms": rtt} for i in range(3)],
        )
        udp_lost = rng.choice((0, 0, 0, 1, 2))
        udp = _rtt_series(rng, "rtt", rtt, 50 - udp_lost)
        udp.update(jitter_ms=rtt * 0.08, sent_count=50, received_count=50 - udp_lost,
                   lost_count=udp_lost, loss_pct=2.0 * udp_lost)  # fmt: skip
        udp_samples = [{"seq": i, "rtt_ms": round(rng.gauss(rtt, rtt * 0.1), 4),
                        "duplicate": False} for i in range(50 - udp_lost)]  # fmt: skip
        yield self.result("probe.udp", host, name, "udp", 1, udp, udp_samples,
                          Status.DEGRADED if udp_lost else Status.OK,
                          f"{udp_lost} of 50 datagrams lost." if udp_lost else None)  # fmt: skip
        failed = rng.random() < 0.01
        url = f"http://{host}:8080/echo"
        if failed:
            yield self.result("probe.http", url, name, "http", 1,
                              {"attempt_count": 3, "ok_count": 0, "failure_pct": 100.0},
                              status=Status.FAILED, error="3 of 3 requests timed out.")  # fmt: skip
        else:
            http = _rtt_series(rng, "total", rtt * 3, 3)
            http.update(_rtt_series(rng, "ttfb", rtt * 2, 3))
            http.update(attempt_count=3, ok_count=3, failure_pct=0.0, http_status_code=200)
            yield self.result(
                "probe.http",
                url,
                name,
                "http",
                1,
                http,
                [{"rep": i, "status": 200, "total_ms": rtt * 3} for i in range(3)],
            )
        dns = _rtt_series(rng, "query", rtt * 0.5 + 1, 3)
        dns.update(query_count=3, ok_count=3, answer_count=1)
        yield self.result("probe.dns", host, name, "dns", 1, dns)

    def event(self, number: int, from_tier: int, to_tier: int) -> Result:
        """The ``autoperf.event`` record of one transition, as the policy words it."""
        host, name = f"10.0.{number}.1", self.spec.server(number)
        if to_tier == 1:
            # tier 1 still breaching at the maximum cycles, or cleared before them
            held = from_tier == 3 or all(self.spec.top_tier(self.cycle - k) == 2 for k in (1, 2, 3))
            reason = (f"held tier {from_tier} for {3 if from_tier == 2 else 1} cycle(s), the "
                      "maximum" if held
                      else "cleared: every tier-1 figure within thresholds")  # fmt: skip
            cause: dict[str, Any] = {"metric": None, "step": None, "value": None,
                                     "threshold": None, "critical": None}  # fmt: skip
        elif to_tier == 2:
            reason = "tier-1 breach: udp loss_pct 4 > 2 (loss_pct)"
            cause = {"metric": "loss_pct", "step": "udp", "value": 4.0, "threshold": 2.0,
                     "critical": False}  # fmt: skip
        else:
            reason = "tier-2 breach: udp_long loss_pct 3.1 > 2 (loss_pct)"
            cause = {"metric": "loss_pct", "step": "udp_long", "value": 3.1, "threshold": 2.0,
                     "critical": False}  # fmt: skip
        info = {"event": "escalation" if to_tier > from_tier else "deescalation",
                "from_tier": from_tier, "to_tier": to_tier, "reason": reason, **cause}  # fmt: skip
        step = str(cause["step"] or f"tier{from_tier}")
        return self.result("autoperf.event", host, name, step, to_tier, {}, info=info, seconds=0)

    def tier2(self, number: int) -> Iterator[Result]:
        rng, name, host = self.rng, self.spec.server(number), f"10.0.{number}.1"
        rtt = self.base_rtt(number)
        yield self.result("probe.trace", host, name, "trace", 2,
                          {"hops_count": 6, "dest_reached_count": 1, "dest_rtt_avg_ms": rtt,
                           "dest_loss_pct": 0.0})  # fmt: skip
        yield self.result("probe.mtu", host, name, "mtu", 2, {"path_mtu_bytes": 1500})
        udp = _rtt_series(rng, "rtt", rtt, 500)
        udp.update(jitter_ms=rtt * 0.07, sent_count=500, received_count=495, loss_pct=1.0)
        yield self.result("probe.udp", host, name, "udp_long", 2, udp, status=Status.DEGRADED,
                          error="5 of 500 datagrams lost.", seconds=5)  # fmt: skip
        mbps = rng.uniform(80, 950) / self.spec.latency_factor
        yield self.result("probe.iperf", host, name, "iperf", 2,
                          {"sent_throughput_mbps": mbps * 1.01, "received_throughput_mbps": mbps,
                           "retransmits_count": 12, "rtt_mean_ms": rtt}, seconds=3)  # fmt: skip
        yield self.result("probe.speedtest", f"http://{host}:8080/backend/", name, "speedtest", 2,
                          {"ping_ms": rtt, "jitter_ms": rtt * 0.06,
                           "download_throughput_mbps": mbps * 0.9,
                           "upload_throughput_mbps": mbps * 0.5}, seconds=10)  # fmt: skip

    def tier3(self, number: int, writer: BundleWriter) -> Iterator[Result]:
        rng, name, host = self.rng, self.spec.server(number), f"10.0.{number}.1"
        rtt = self.base_rtt(number)
        for label, reverse in (("iperf_up", False), ("iperf_down", True)):
            mbps = rng.uniform(80, 950) / self.spec.latency_factor
            metrics = {"sent_throughput_mbps": mbps * 1.01, "received_throughput_mbps": mbps,
                       "retransmits_count": rng.randint(0, 40), "rtt_mean_ms": rtt}  # fmt: skip
            params = {"duration_s": 10, "reverse": reverse}
            yield self.result("probe.iperf", host, name, label, 3, metrics, params=params,
                              seconds=10)  # fmt: skip
        rpm = 60_000 / (rtt * 4)
        yield self.result("probe.rpm", f"http://{host}:8080/", name, "rpm", 3,
                          {"idle_latency_ms": rtt, "loaded_latency_ms": rtt * 4,
                           "responsiveness_rpm": rpm, "idle_responsiveness_rpm": 60_000 / rtt,
                           "download_throughput_mbps": rng.uniform(80, 950),
                           "upload_throughput_mbps": rng.uniform(40, 500),
                           "latency_increase_ms": rtt * 3}, seconds=20)  # fmt: skip
        framework = "django" if (self.cycle // self.spec.tier3_every) % 2 == 0 else "flask"
        requests = rng.randint(2000, 4000)
        failures = rng.randint(0, 20)
        lat = (12.0 if framework == "django" else 8.0) * self.spec.latency_factor
        load = {"requests_count": requests, "failures_count": failures,
                "error_rate_pct": round(100.0 * failures / requests, 3),
                "throughput_rps": requests / 30.0, "latency_avg_ms": lat,
                "latency_p50_ms": lat * 0.9, "latency_p90_ms": lat * 1.8,
                "latency_p95_ms": lat * 2.2, "latency_p99_ms": lat * 4.0,
                "target_cpu_avg_pct": rng.uniform(20, 60),
                "target_rss_max_mb": 90.0 if framework == "flask" else 140.0}  # fmt: skip
        url = f"http://{host}:8000"
        yield self.result("load.locust", url, name, f"load {framework}", 3, load,
                          params={"profile": {"name": "light"}, "target": framework},
                          seconds=30)  # fmt: skip
        begin = self.clock.timestamp() - 30
        samples = [{"source": "target", "time": begin + 5 * i, "method": "psutil",
                    "cpu_pct": rng.uniform(10, 90), "rss_mb": 80.0 + i}
                   for i in range(6)]  # fmt: skip
        writer.add_profiling(ndjson.lines(samples, run=self.run_id, tags={"label": framework}))

    def bundle(self) -> tuple[BundleWriter, datetime]:
        spec = self.spec
        country, asn, org = COUNTRIES[self.agent_no % len(COUNTRIES)]
        geo: dict[str, GeoValue] = {"scope": "public", "geo": "ok", "country": country,
                                    "asn": asn, "organisation": org}  # fmt: skip
        top, before = spec.top_tier(self.cycle), spec.top_tier(self.cycle - 1)
        writer = BundleWriter(None, agent=self.agent, run_id=self.run_id,
                              tiers=list(range(1, top + 1)), started_at=self.start,
                              geo=geo)  # fmt: skip
        # the policy's order: tier 1 for every server, its decisions, tier 2, then tier 3
        for number in range(spec.servers):
            for record in self.tier1(number):
                writer.add_result(record)
        if before > 1 and (top == 1 or spec.escalates_at(self.cycle)):
            writer.add_result(self.event(0, before, 1))
        if spec.escalates_at(self.cycle):
            writer.add_result(self.event(0, 1, 2))
        if top >= 2:
            for record in self.tier2(0):
                writer.add_result(record)
        if top == 3:
            writer.add_result(self.event(0, 2, 3))
            for record in self.tier3(0, writer):
                writer.add_result(record)
        cycle = {"run_id": self.run_id, "agent": self.agent, "cycle": self.cycle}
        writer.add_raw("autoperf-cycle.json", json.dumps(cycle).encode())
        return writer, self.clock


def fleet_bundle(spec: FleetSpec, index: int) -> tuple[str, bytes, dict[str, Any]]:
    """Bundle number ``index`` of the fleet: its store key, archive bytes and sidecar."""
    writer, end = _Cycle(spec, index).bundle()
    out = io.BytesIO()
    manifest = writer.write_archive(out, end)
    data = out.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    meta = {"tags": bundle_tags(manifest), "metadata": bundle_metadata(manifest, sha)}
    return hive_key(manifest), data, meta


def _write_range(root: Path, spec: FleetSpec, first: int, stop: int) -> int:
    for index in range(first, stop):
        key, data, meta = fleet_bundle(spec, index)
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.with_name(path.name + META_SUFFIX).write_text(json.dumps(meta, sort_keys=True))
    return stop - first


def write_fleet(root: Path, spec: FleetSpec, count: int, first: int = 0, workers: int = 1) -> int:
    """Write bundles ``first`` … ``first + count - 1`` under ``root``; return how many."""
    if workers <= 1 or count < 1000:
        return _write_range(root, spec, first, first + count)
    step = max(1, count // (workers * 8))
    with ProcessPoolExecutor(workers) as pool:
        jobs = [pool.submit(_write_range, root, spec, lo, min(lo + step, first + count))
                for lo in range(first, first + count, step)]  # fmt: skip
        return sum(job.result() for job in jobs)
