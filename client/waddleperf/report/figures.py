"""Which metric of each probe kind is its latency, loss, jitter and throughput; pure data.

The report compares probes of different kinds side by side, so every probe record gets four
typed columns at ingest, read from the metric this table names for its kind: ``latency_ms``
(the record's average round trip, connect or request time), ``latency_p95_ms``, ``loss_ratio``
(0–1, from the kind's loss or failure percentage; 1 for a failed record of a kind that has
one) and ``throughput_bps`` (bit/s). ``jitter_ms`` is the record's ``jitter_ms`` whatever
its kind. A kind missing here simply has nulls in those columns.
"""

from __future__ import annotations

from collections.abc import Mapping

#: kind → the metric holding its latency figure (a mean over the record's attempts), ms.
LATENCY: Mapping[str, str] = {
    "probe.icmp": "rtt_avg_ms",
    "probe.udp": "rtt_avg_ms",
    "probe.tcp": "connect_avg_ms",
    "probe.http": "total_avg_ms",
    "probe.dns": "query_avg_ms",
    "probe.speedtest": "ping_ms",
    "probe.trace": "dest_rtt_avg_ms",
    "probe.rpm": "idle_latency_ms",
    "probe.iperf": "rtt_mean_ms",
    "probe.ssh": "connect_ms",
}
#: kind → its p95 latency metric, ms (kinds whose records carry one).
LATENCY_P95: Mapping[str, str] = {
    "probe.icmp": "rtt_p95_ms",
    "probe.udp": "rtt_p95_ms",
    "probe.tcp": "connect_p95_ms",
    "probe.http": "total_p95_ms",
    "probe.dns": "query_p95_ms",
}
#: kind → the percentage of attempts lost or failed.
LOSS_PCT: Mapping[str, str] = {
    "probe.icmp": "loss_pct",
    "probe.udp": "loss_pct",
    "probe.trace": "dest_loss_pct",
    "probe.tcp": "failure_pct",
    "probe.http": "failure_pct",
}
#: kind → its throughput metric, Mbit/s.
THROUGHPUT_MBPS: Mapping[str, str] = {
    "probe.iperf": "received_throughput_mbps",
    "probe.speedtest": "download_throughput_mbps",
    "probe.rpm": "download_throughput_mbps",
}
JITTER = "jitter_ms"


def _case(column: str, table: Mapping[str, str], scale: str = "") -> str:
    arms = " ".join(
        f"WHEN '{kind}' THEN {column}['{metric}']{scale}" for kind, metric in sorted(table.items())
    )
    return f"CASE kind {arms} END"


def derived_columns(metrics: str = "metrics") -> dict[str, str]:
    """SQL expressions (over a row with ``kind``, ``status`` and a MAP ``metrics``) of the
    typed figure columns, by column name."""
    loss = _case(metrics, LOSS_PCT, " / 100.0")
    has_loss = ", ".join(f"'{k}'" for k in sorted(LOSS_PCT))
    return {
        "latency_ms": _case(metrics, LATENCY),
        "latency_p95_ms": _case(metrics, LATENCY_P95),
        "loss_ratio": f"coalesce({loss}, CASE WHEN status = 'failed' AND kind IN ({has_loss}) "
        "THEN 1.0 END)",
        "jitter_ms": f"{metrics}['{JITTER}']",
        "throughput_bps": _case(metrics, THROUGHPUT_MBPS, " * 1e6"),
    }
