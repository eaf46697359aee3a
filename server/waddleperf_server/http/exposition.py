"""The server's Prometheus metrics, read from the services' status documents. Pure mapping.

Nothing new is counted for Prometheus: every figure is a counter the services already keep
for ``/health`` (summed over HTTP workers by ``workers/aggregate.py``), and the reply tally
(``http/tally.py``). :func:`families` turns those documents into metric families.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

#: Service states a status reports (``state``), exported one series each (1 for the current).
STATES = ("running", "restarting", "failed", "stopped", "disabled")
#: Drops by service: status key → reason label (the UDP echo's own reasons come as they are).
HTTP_DROPS = {"pool_full_rejected": "pool_full", "source_rejected": "source_limit",
              "shed": "shed", "head_timeouts": "head_timeout"}  # fmt: skip
TCP_DROPS = {"source_rejected": "source_limit", "shed": "shed", "idle_closed": "idle",
             "limit_closed": "limit", "lifetime_closed": "lifetime"}  # fmt: skip
#: Every family the server exports, with its type (docs/metrics.md lists them).
METRICS: dict[str, str] = {
    "waddleperf_server_build_info": "gauge",
    "waddleperf_server_uptime_seconds": "gauge",
    "waddleperf_server_service_state": "gauge",
    "waddleperf_server_http_requests_total": "counter",
    "waddleperf_server_active_connections": "gauge",
    "waddleperf_server_connections_total": "counter",
    "waddleperf_server_dropped_total": "counter",
    "waddleperf_server_udp_datagrams_total": "counter",
    "waddleperf_server_udp_bytes_total": "counter",
    "waddleperf_server_tcp_echo_bytes_total": "counter",
    "waddleperf_server_iperf_restarts_total": "counter",
    "waddleperf_server_iperf_max_duration_kills_total": "counter",
    "waddleperf_server_http_worker_restarts_total": "counter",
}


def _num(doc: Mapping[str, Any], key: str) -> float:
    value = doc.get(key, 0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _counter(name: str, text: str, labels: list[str]) -> CounterMetricFamily:
    """A counter family (named with its ``_total``; the library adds it back)."""
    return CounterMetricFamily(name.removesuffix("_total"), text, labels=labels)


def families(
    states: Mapping[str, Mapping[str, Any]], version: str, uptime_s: float
) -> Iterator[Metric]:
    """The families of one scrape from ``Runtime.service_states()``."""
    info = GaugeMetricFamily("waddleperf_server_build_info", "The server's version (value 1).",
                             labels=["version"])  # fmt: skip
    info.add_metric([version], 1.0)
    yield info
    yield GaugeMetricFamily(
        "waddleperf_server_uptime_seconds", "Seconds since the server started.", value=uptime_s
    )
    state = GaugeMetricFamily(
        "waddleperf_server_service_state",
        "1 for each service's current state (running|restarting|failed|stopped|disabled).",
        labels=["service", "state"],
    )
    for service, doc in sorted(states.items()):
        now = str(doc.get("state", "stopped"))
        for name in STATES:
            state.add_metric([service, name], 1.0 if now == name else 0.0)
    yield state
    http, tcp = states.get("http", {}), states.get("tcp_echo", {})
    udp, iperf = states.get("udp_echo", {}), states.get("iperf", {})
    yield _requests(http)
    yield _rows(
        GaugeMetricFamily,
        "waddleperf_server_active_connections",
        "Connections open now.",
        ["service"],
        [(["http"], _num(http, "connections")), (["tcp_echo"], _num(tcp, "active"))],
    )
    yield _rows(
        _counter,
        "waddleperf_server_connections_total",
        "Connections accepted (TCP echo).",
        ["service"],
        [(["tcp_echo"], _num(tcp, "total"))],
    )
    yield _drops(http, tcp, udp)
    yield _rows(
        _counter,
        "waddleperf_server_udp_datagrams_total",
        "UDP echo datagrams received and replied.",
        ["direction"],
        [(["in"], _num(udp, "received")), (["out"], _num(udp, "replied"))],
    )
    yield _rows(
        _counter,
        "waddleperf_server_udp_bytes_total",
        "UDP echo bytes in and out.",
        ["direction"],
        [(["in"], _num(udp, "bytes_in")), (["out"], _num(udp, "bytes_out"))],
    )
    yield _rows(
        _counter,
        "waddleperf_server_tcp_echo_bytes_total",
        "TCP echo bytes echoed.",
        [],
        [([], _num(tcp, "bytes"))],
    )
    for key, name, text in (
        ("restarts", "waddleperf_server_iperf_restarts_total", "iperf3 restarts."),
        ("max_duration_kills", "waddleperf_server_iperf_max_duration_kills_total",
         "iperf3 tests ended for running past server_max_duration_s."),
    ):  # fmt: skip
        family = _counter(name, text, [])
        family.add_metric([], _num(iperf, key))
        yield family
    restarts = _counter("waddleperf_server_http_worker_restarts_total",
                        "HTTP worker processes restarted.", [])  # fmt: skip
    restarts.add_metric([], _num(http, "worker_restarts"))
    yield restarts


def _rows(
    make: Callable[..., Any],
    name: str,
    text: str,
    labels: list[str],
    rows: list[tuple[list[str], float]],
) -> Metric:
    """A family of ``make``'s kind (gauge or counter) holding ``rows`` of (labels, value)."""
    family = make(name, text, labels=labels)
    for values, value in rows:
        family.add_metric(values, value)
    return family  # type: ignore[no-any-return]


def _requests(http: Mapping[str, Any]) -> Metric:
    family = _counter("waddleperf_server_http_requests_total",
                      "HTTP replies by endpoint (the view's name, or unmatched) and status.",
                      ["endpoint", "status"])  # fmt: skip
    table = http.get("requests")
    for endpoint, by_status in sorted((table if isinstance(table, Mapping) else {}).items()):
        if isinstance(by_status, Mapping):
            for code in sorted(by_status):
                family.add_metric([str(endpoint), str(code)], _num(by_status, code))
    return family


def _drops(http: Mapping[str, Any], tcp: Mapping[str, Any], udp: Mapping[str, Any]) -> Metric:
    family = _counter("waddleperf_server_dropped_total",
                      "Connections, requests and datagrams refused or cut, by service and reason "
                      "(rate, hmac, oversized, malformed, reply for UDP; pool_full, source_limit, "
                      "shed … for HTTP and TCP).", ["service", "reason"])  # fmt: skip
    for key, reason in HTTP_DROPS.items():
        family.add_metric(["http", reason], _num(http, key))
    family.add_metric(["tcp_echo", "pool_full"],
                      max(_num(tcp, "rejected") - _num(tcp, "source_rejected"), 0.0))  # fmt: skip
    for key, reason in TCP_DROPS.items():
        family.add_metric(["tcp_echo", reason], _num(tcp, key))
    by_reason = udp.get("dropped_by_reason")
    reasons: Mapping[str, Any] = by_reason if isinstance(by_reason, Mapping) else {}
    for reason in sorted(reasons):
        family.add_metric(["udp_echo", str(reason)], _num(reasons, reason))
    return family
