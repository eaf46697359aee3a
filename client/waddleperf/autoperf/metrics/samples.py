"""One cycle's records as metric samples, in base units (seconds, ratios, bits per second). Pure.

The record keeps milliseconds, percent and Mbit/s (``rtt_avg_ms``, ``loss_pct``,
``received_throughput_mbps``); Prometheus wants base units in the names, so each figure is
converted here once: ``waddleperf_rtt_seconds{stat="avg"}`` is ``rtt_avg_ms / 1000``.

Label values come from the configuration (server names, step labels), the probe's kind,
the tier and a fixed vocabulary (``stat``, ``direction``, ``reason``): never a run id, an error
text or anything else a cycle makes up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from waddleperf.autoperf.events import EVENT_KIND
from waddleperf.autoperf.policy import TIER1_RULES, TIER2_RULES
from waddleperf.autoperf.summary import probe_kind
from waddleperf.results.model import Result, Status

#: Labels of every per-step series.
STEP_LABELS = ("server", "tier", "step", "probe")
#: The figure of each probe that is its latency: the metric prefix and the sample key.
LATENCY: dict[str, tuple[str, str]] = {
    "icmp": ("rtt", "rtt_ms"),
    "udp": ("rtt", "rtt_ms"),
    "tcp": ("connect", "connect_ms"),
    "http": ("total", "total_ms"),
    "dns": ("query", "query_ms"),
}
#: Series statistics exported as ``stat`` (what ``probes.stats.series_metrics`` names).
STATS = ("min", "avg", "max", "p50", "p95", "p99")
#: Loss: the share of packets (or attempts) that went unanswered.
LOSS = {"icmp": "loss_pct", "udp": "loss_pct", "tcp": "failure_pct", "http": "failure_pct"}
#: Throughput figures: record metric → ``direction`` label.
THROUGHPUT: dict[str, dict[str, str]] = {
    "iperf": {"received_throughput_mbps": "received", "sent_throughput_mbps": "sent"},
    "speedtest": {"download_throughput_mbps": "download", "upload_throughput_mbps": "upload"},
}
#: Escalation reasons: the threshold key that was crossed, ``failure`` or ``forced``.
REASONS = tuple(sorted({r.key for r in (*TIER1_RULES, *TIER2_RULES)} | {"failure", "forced"}))
#: Reasons for returning to tier 1.
DEESCALATION_REASONS = ("cleared", "held_max_cycles", "forced")
#: smokeping_prober's buckets: 50 µs doubling 20 times (to ~26 s), for network latency.
BUCKETS: tuple[float, ...] = tuple(0.00005 * 2**i for i in range(20))

Labels = tuple[str, ...]


@dataclass
class CycleMetrics:
    """What one cycle contributes: gauges (name → labels → value), latency observations for
    the histograms (labels → seconds), and tier transitions (counter increments)."""

    gauges: dict[str, dict[Labels, float]] = field(default_factory=dict)
    observations: dict[Labels, list[float]] = field(default_factory=dict)
    escalations: dict[Labels, int] = field(default_factory=dict)
    deescalations: dict[Labels, int] = field(default_factory=dict)

    def set(self, name: str, labels: Labels, value: float) -> None:
        """Set gauge ``name`` for ``labels`` (a later record of the same series wins)."""
        self.gauges.setdefault(name, {})[labels] = value


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def step_labels(record: Result) -> Labels:
    """``(server, tier, step, probe)`` of a probe record (its ``info.server``/``info.step``)."""
    kind = probe_kind(record)
    server = str(record.info.get("server") or record.target)
    step = str(record.info.get("step") or kind)
    return (server, str(record.tier or 0), step, kind)


def _probe(out: CycleMetrics, record: Result) -> None:
    labels = step_labels(record)
    kind = labels[3]
    m = record.metrics
    out.set("waddleperf_probe_success", labels, 0.0 if record.status is Status.FAILED else 1.0)
    elapsed = (record.finished_at - record.started_at).total_seconds()
    out.set("waddleperf_probe_duration_seconds", labels, max(elapsed, 0.0))
    if kind in LATENCY:
        prefix, sample_key = LATENCY[kind]
        for stat in STATS:
            ms = _number(m.get(f"{prefix}_{stat}_ms"))
            if ms is not None:
                out.set("waddleperf_rtt_seconds", (*labels, stat), ms / 1000.0)
        seen = [_number(s.get(sample_key)) for s in record.samples or ()]
        values = [v / 1000.0 for v in seen if v is not None]
        if values:
            out.observations.setdefault(labels, []).extend(values)
    jitter = _number(m.get("jitter_ms"))
    if jitter is not None:
        out.set("waddleperf_jitter_seconds", labels, jitter / 1000.0)
    loss = _number(m.get(LOSS.get(kind, "")))
    if loss is not None:
        out.set("waddleperf_loss_ratio", labels, loss / 100.0)
    for metric, direction in THROUGHPUT.get(kind, {}).items():
        mbps = _number(m.get(metric))
        if mbps is not None:
            out.set("waddleperf_throughput_bits_per_second", (*labels, direction), mbps * 1e6)
    rpm = _number(m.get("responsiveness_rpm"))
    if rpm is not None:
        out.set("waddleperf_responsiveness_round_trips_per_minute", labels, rpm)


def escalation_reason(info: Mapping[str, object]) -> str:
    """The bounded reason of an escalation event: the threshold key crossed (``rtt_ms``,
    ``critical_loss_pct``, ``throughput_floor_mbps`` …), ``failure`` or ``forced``."""
    metric = info.get("metric")
    if not isinstance(metric, str):
        return "forced"
    if metric.endswith(".status"):
        return "failure"
    critical = bool(info.get("critical"))
    for rule in (*TIER1_RULES, *TIER2_RULES):
        if rule.metric == metric and rule.critical == critical:
            return rule.key
    return "failure"


def deescalation_reason(info: Mapping[str, object]) -> str:
    """``cleared``, ``held_max_cycles`` or ``forced`` (from the event's reason sentence,
    whose beginnings the policy fixes)."""
    text = str(info.get("reason") or "")
    if text.startswith("cleared"):
        return "cleared"
    if text.startswith("held"):
        return "held_max_cycles"
    return "forced"


def _event(out: CycleMetrics, record: Result) -> None:
    info = record.info
    server = str(info.get("server") or record.target)
    if info.get("event") == "escalation":
        up = (server, str(info.get("to_tier")), escalation_reason(info))
        out.escalations[up] = out.escalations.get(up, 0) + 1
    else:
        down = (server, deescalation_reason(info))
        out.deescalations[down] = out.deescalations.get(down, 0) + 1


def cycle_metrics(
    records: Sequence[Result], tiers: Mapping[str, int], duration_s: float | None
) -> CycleMetrics:
    """The samples of one cycle: its probe and event records, each server's tier after the
    cycle (``tiers``), the cycle's duration in seconds. Load runs and other records are
    left out (their figures are the report's)."""
    out = CycleMetrics()
    for server, tier in tiers.items():
        out.set("waddleperf_tier", (server,), float(tier))
    if duration_s is not None:
        out.set("waddleperf_cycle_duration_seconds", (), max(duration_s, 0.0))
    for record in records:
        if record.kind == EVENT_KIND:
            _event(out, record)
        elif record.kind.startswith("probe."):
            _probe(out, record)
    return out
