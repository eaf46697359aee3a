"""The agent's metric families for ``prometheus_client``: a custom collector over the
exporter's state and the spool, read at scrape time (nothing is registered globally).

:data:`METRICS` names every family with its help text; docs/metrics.md lists them and a test
holds the dashboard's queries to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from waddleperf.autoperf.metrics.samples import STEP_LABELS
from waddleperf.autoperf.metrics.state import ExporterState, Snapshot


@dataclass(frozen=True)
class SinkFigures:
    """The spool and the uploader at scrape time."""

    spool_bundles: int
    spool_bytes: int
    pending_bundles: int
    pending_bytes: int
    dropped_bundles: int
    uploads: int
    upload_failures: int
    last_upload_at: float | None


#: Per-cycle gauges: name → (extra labels after the common ones, help).
GAUGES: dict[str, tuple[tuple[str, ...], str]] = {
    "waddleperf_rtt_seconds": (
        (*STEP_LABELS, "stat"),
        "Latency of the last cycle's step (icmp/udp round trip, tcp connect, http total, "
        "dns query), by statistic min|avg|max|p50|p95|p99.",
    ),
    "waddleperf_jitter_seconds": (STEP_LABELS, "RFC 3550 jitter of the last cycle's step."),
    "waddleperf_loss_ratio": (
        STEP_LABELS,
        "Share of packets (icmp, udp) or attempts (tcp, http) unanswered in the last cycle, 0-1.",
    ),
    "waddleperf_throughput_bits_per_second": (
        (*STEP_LABELS, "direction"),
        "Throughput of the last cycle's iperf (sent|received) or speedtest (download|upload).",
    ),
    "waddleperf_responsiveness_round_trips_per_minute": (
        STEP_LABELS,
        "Responsiveness (RPM) of the last cycle's rpm step.",
    ),
    "waddleperf_probe_success": (STEP_LABELS, "1 when the last cycle's step measured, 0 failed."),
    "waddleperf_probe_duration_seconds": (STEP_LABELS, "How long the last cycle's step took."),
    "waddleperf_tier": (("server",), "The tier each server is at after the last cycle (1-3)."),
    "waddleperf_cycle_duration_seconds": ((), "How long the last cycle took."),
}
#: Every family the agent exports, with its type.
METRICS: dict[str, str] = {
    **dict.fromkeys(GAUGES, "gauge"),
    "waddleperf_response_duration_seconds": "histogram",
    "waddleperf_escalations_total": "counter",
    "waddleperf_deescalations_total": "counter",
    "waddleperf_cycles_total": "counter",
    "waddleperf_last_cycle_timestamp_seconds": "gauge",
    "waddleperf_spool_bundles": "gauge",
    "waddleperf_spool_bytes": "gauge",
    "waddleperf_pending_bundles": "gauge",
    "waddleperf_pending_bytes": "gauge",
    "waddleperf_bundles_dropped_total": "counter",
    "waddleperf_uploads_total": "counter",
    "waddleperf_upload_failures_total": "counter",
    "waddleperf_last_upload_success_timestamp_seconds": "gauge",
    "waddleperf_build_info": "gauge",
}


class AgentCollector(Collector):
    """Yields the agent's families; every series carries the constant ``agent`` label."""

    def __init__(
        self,
        state: ExporterState,
        agent: str,
        version: str,
        sink: Callable[[], SinkFigures | None] | None = None,
    ) -> None:
        self.state = state
        self.agent = agent
        self.version = version
        self.sink = sink

    def collect(self) -> Iterator[Metric]:
        """The families of one scrape: one consistent cycle, the totals, the spool now."""
        snap = self.state.snapshot()
        yield from self._gauges(snap)
        yield from self._totals(snap)
        figures = self.sink() if self.sink is not None else None
        if figures is not None:
            yield from self._sink(figures)
        info = GaugeMetricFamily(
            "waddleperf_build_info", "The agent's version (value 1).", labels=["agent", "version"]
        )
        info.add_metric([self.agent, self.version], 1.0)
        yield info

    def _gauges(self, snap: Snapshot) -> Iterator[Metric]:
        for name, (labels, text) in GAUGES.items():
            family = GaugeMetricFamily(name, text, labels=["agent", *labels])
            for values, value in sorted(snap.gauges.get(name, {}).items()):
                family.add_metric([self.agent, *values], value)
            yield family

    def _totals(self, snap: Snapshot) -> Iterator[Metric]:
        hist = HistogramMetricFamily(
            "waddleperf_response_duration_seconds",
            "Latency of every sample (ping reply, connect, request) since the agent started.",
            labels=["agent", *STEP_LABELS],
        )
        for labels, h in sorted(snap.histograms.items()):
            hist.add_metric([self.agent, *labels], h.cumulative(), h.total)
        yield hist
        esc = CounterMetricFamily(
            "waddleperf_escalations",
            "Escalations since the agent started, by the threshold key crossed, failure or forced.",
            labels=["agent", "server", "to_tier", "reason"],
        )
        for labels, count in sorted(snap.escalations.items()):
            esc.add_metric([self.agent, *labels], count)
        yield esc
        down = CounterMetricFamily(
            "waddleperf_deescalations",
            "Returns to tier 1 since the agent started (cleared, held_max_cycles, forced).",
            labels=["agent", "server", "reason"],
        )
        for labels, count in sorted(snap.deescalations.items()):
            down.add_metric([self.agent, *labels], count)
        yield down
        cycles = CounterMetricFamily(
            "waddleperf_cycles", "Cycles run since the agent started.", labels=["agent"]
        )
        cycles.add_metric([self.agent], snap.cycles)
        yield cycles
        if snap.last_cycle_at is not None:
            yield _one("waddleperf_last_cycle_timestamp_seconds",
                       "When the last cycle ended (Unix time).", self.agent,
                       snap.last_cycle_at)  # fmt: skip

    def _sink(self, f: SinkFigures) -> Iterator[Metric]:
        a = self.agent
        yield _one("waddleperf_spool_bundles", "Bundles waiting in the spool.", a, f.spool_bundles)
        yield _one("waddleperf_spool_bytes", "Bytes of the bundles in the spool.", a, f.spool_bytes)
        yield _one("waddleperf_pending_bundles",
                   "Bundles held in memory (the spool's disk refused them).", a,
                   f.pending_bundles)  # fmt: skip
        yield _one("waddleperf_pending_bytes", "Bytes held in memory.", a, f.pending_bytes)
        yield _one("waddleperf_bundles_dropped", "Bundles lost (memory bound, full disk).", a,
                   f.dropped_bundles, counter=True)  # fmt: skip
        yield _one("waddleperf_uploads", "Bundles the store confirmed.", a, f.uploads,
                   counter=True)  # fmt: skip
        yield _one("waddleperf_upload_failures", "Failed upload attempts.", a, f.upload_failures,
                   counter=True)  # fmt: skip
        if f.last_upload_at is not None:
            yield _one("waddleperf_last_upload_success_timestamp_seconds",
                       "When the store last confirmed a bundle (Unix time).", a,
                       f.last_upload_at)  # fmt: skip


def _one(name: str, text: str, agent: str, value: float, counter: bool = False) -> Metric:
    family = (CounterMetricFamily if counter else GaugeMetricFamily)(name, text, labels=["agent"])
    family.add_metric([agent], value)
    return family
