"""The server's metrics from its services' status documents, and the reply tally."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from waddleperf_server.http import exposition
from waddleperf_server.http.tally import RequestTally, view_name
from waddleperf_server.workers.aggregate import merge

STATES: dict[str, dict[str, Any]] = {
    "http": {"state": "running", "port": 8080, "connections": 3, "source_rejected": 2,
             "shed": 1, "pool_full_rejected": 4, "head_timeouts": 5,
             "requests": {"empty": {"200": 10}, "unmatched": {"404": 1}}},
    "tcp_echo": {"state": "running", "active": 1, "total": 9, "rejected": 5,
                 "source_rejected": 2, "bytes": 100, "idle_closed": 1},
    "udp_echo": {"state": "running", "received": 20, "replied": 18, "bytes_in": 800,
                 "bytes_out": 720, "dropped_by_reason": {"hmac": 1, "rate": 1, "oversized": 0}},
    "iperf": {"state": "restarting", "restarts": 2, "max_duration_kills": 1},
}  # fmt: skip


class _Fixed(Collector):
    def __init__(self, states: dict[str, dict[str, Any]]) -> None:
        self.states = states

    def collect(self) -> Iterator[Metric]:
        return exposition.families(self.states, "1.2.3", 42.0)


def _scrape(states: dict[str, dict[str, Any]]) -> dict[tuple[str, tuple[Any, ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(states))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_counters_come_from_the_status_documents() -> None:
    got = _scrape(STATES)
    req = "waddleperf_server_http_requests_total"
    assert got[(req, (("endpoint", "empty"), ("status", "200")))] == 10
    assert got[(req, (("endpoint", "unmatched"), ("status", "404")))] == 1
    drops = "waddleperf_server_dropped_total"
    assert got[(drops, (("reason", "pool_full"), ("service", "http")))] == 4
    assert got[(drops, (("reason", "source_limit"), ("service", "http")))] == 2
    assert got[(drops, (("reason", "pool_full"), ("service", "tcp_echo")))] == 3
    assert got[(drops, (("reason", "hmac"), ("service", "udp_echo")))] == 1
    assert got[("waddleperf_server_udp_bytes_total", (("direction", "in"),))] == 800
    assert got[("waddleperf_server_udp_datagrams_total", (("direction", "out"),))] == 18
    assert got[("waddleperf_server_active_connections", (("service", "http"),))] == 3
    assert got[("waddleperf_server_iperf_restarts_total", ())] == 2
    state = "waddleperf_server_service_state"
    assert got[(state, (("service", "iperf"), ("state", "restarting")))] == 1
    assert got[(state, (("service", "iperf"), ("state", "running")))] == 0
    assert got[("waddleperf_server_build_info", (("version", "1.2.3"),))] == 1
    names = {name.removesuffix("_total") for name, _ in got}
    assert names <= {n.removesuffix("_total") for n in exposition.METRICS}


def test_missing_services_give_zeros_not_errors() -> None:
    got = _scrape({"http": {"state": "disabled", "port": 0}})
    assert got[("waddleperf_server_udp_bytes_total", (("direction", "in"),))] == 0
    assert got[("waddleperf_server_service_state", (("service", "http"), ("state", "disabled")))]


def test_the_tally_sums_over_workers_through_the_status_merge() -> None:
    one, two = RequestTally(), RequestTally()
    one.add("empty", 200)
    one.add("empty", 200)
    two.add("empty", 200)
    two.add(None, 404)
    merged = merge([{"requests": one.as_status()}, {"requests": two.as_status()}], ())
    assert merged["requests"] == {"empty": {"200": 3}, "unmatched": {"404": 1}}
    assert view_name("librespeed_backend.empty") == "empty" and view_name(None) is None
