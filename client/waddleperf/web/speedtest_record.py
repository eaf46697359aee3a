"""The browser speed test's figures, as the page POSTs them, turned into a result record of
kind ``probe.speedtest`` like the CLI probe's (same metric names), checked on the way in:
the browser is not trusted, so only known metrics with plausible values, bounded samples and
short strings get through, and the target must be one of the servers the page offered.
Pure: a dict in, a :class:`Result` out (or :class:`BadSpeedtest` naming what is wrong)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from waddleperf.results.model import MetricValue, Result, Sample, Scalar, Status

KIND = "probe.speedtest"
#: metric → the largest value a browser may report (beyond it the figure is not plausible).
METRICS: dict[str, float] = {
    "ping_ms": 60_000.0,
    "jitter_ms": 60_000.0,
    "ping_lost_count": 1000,
    "download_throughput_mbps": 1e6,
    "download_goodput_mbps": 1e6,
    "download_bytes": 1e13,
    "download_measured_s": 600.0,
    "upload_throughput_mbps": 1e6,
    "upload_goodput_mbps": 1e6,
    "upload_bytes": 1e13,
    "upload_measured_s": 600.0,
}
INFO_KEYS = ("client_ip", "isp", "ip_processed")
SAMPLE_KEYS = ("phase", "seq", "rtt_ms", "t_s", "bytes", "instant_goodput_mbps")
MAX_SAMPLES = 2_000
MAX_TEXT = 300
MAX_FAILURES = 10
MAX_DURATION_S = 3600.0


class BadSpeedtest(ValueError):
    """The POSTed figures are not a speed test result; the message names the field."""


def _number(name: str, value: Any, cap: float) -> MetricValue:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadSpeedtest(f"metrics.{name}: not a number ({value!r:.40})")
    if not math.isfinite(value) or value < 0 or value > cap:
        raise BadSpeedtest(f"metrics.{name} = {value}: outside 0 … {cap:g}")
    return value


def _text(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadSpeedtest(f"{where}: not a string")
    return value[:MAX_TEXT]


def _sample(raw: Any, n: int) -> Sample:
    if not isinstance(raw, Mapping):
        raise BadSpeedtest(f"samples[{n}]: not an object")
    out: Sample = {}
    for key in SAMPLE_KEYS:
        value = raw.get(key)
        if key == "phase":
            if value not in ("ping", "download", "upload"):
                raise BadSpeedtest(f"samples[{n}].phase: not ping, download or upload")
            out[key] = value
        elif value is not None:
            out[key] = _number(f"samples[{n}].{key}", value, 1e13)
    return out


def speedtest_result(payload: Any, servers: Sequence[str], agent: str, now: datetime) -> Result:
    """The record for ``payload`` (the page's JSON) measured against one of ``servers``."""
    if not isinstance(payload, Mapping):
        raise BadSpeedtest("the body is not a JSON object")
    server = payload.get("server")
    if server not in servers:
        raise BadSpeedtest(f"server {str(server)[:80]!r} is not one of the configured servers")
    metrics_in = payload.get("metrics")
    if not isinstance(metrics_in, Mapping) or not metrics_in:
        raise BadSpeedtest("metrics: missing or not an object")
    unknown = sorted(set(metrics_in) - set(METRICS))
    if unknown:
        raise BadSpeedtest(f"metrics.{unknown[0][:40]}: not a speed test metric")
    metrics = {k: _number(k, v, METRICS[k]) for k, v in metrics_in.items()}
    info_in = payload.get("info") or {}
    if not isinstance(info_in, Mapping):
        raise BadSpeedtest("info: not an object")
    info: dict[str, Scalar] = {k: _text(f"info.{k}", info_in.get(k)) for k in INFO_KEYS}
    info["client"] = "browser"
    samples_in = payload.get("samples") or []
    if not isinstance(samples_in, list):
        raise BadSpeedtest("samples: not a list")
    samples = [_sample(s, n) for n, s in enumerate(samples_in[:MAX_SAMPLES])]
    failures_in = payload.get("failures") or []
    if not isinstance(failures_in, list):
        raise BadSpeedtest("failures: not a list")
    failures = [_text(f"failures[{n}]", f) or "" for n, f in enumerate(failures_in[:MAX_FAILURES])]
    duration = _number("duration_s", payload.get("duration_s", 0.0), MAX_DURATION_S) or 0.0
    hard = [f for f in failures if " failed: " in f]
    measured = [k for k in ("ping_ms", "download_throughput_mbps", "upload_throughput_mbps")
                if metrics.get(k) is not None]  # fmt: skip
    if not measured:
        status = Status.FAILED
    elif failures:
        status = Status.DEGRADED
    else:
        status = Status.OK
    return Result(
        kind=KIND,
        target=str(server),
        started_at=now - timedelta(seconds=duration),
        finished_at=now,
        agent=agent,
        params={"client": "browser", "user_agent": _text("user_agent", payload.get("user_agent"))},
        metrics=metrics,
        info=info,
        samples=samples,
        samples_dropped=max(len(samples_in) - MAX_SAMPLES, 0),
        status=status,
        error="; ".join(hard or failures) + "." if failures else None,
    )


def utc_now() -> datetime:
    """Now, in UTC (the record's clock; the browser's is not trusted)."""
    return datetime.now(UTC)
