"""The udp probe against the real server's per-source rate limit on loopback: when it sends
faster than the limit, its loss is exactly what the server's /health counts as rate drops,
and the record says so; below the limit it says nothing of the kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from waddleperf.localstack import LocalServer
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status

RATE_PPS, BURST = 20, 5
LIMITED = f"udp_echo: {{rate_limit_pps: {RATE_PPS}, rate_burst: {BURST}}}\n"
KEY = "waddle-rate-key-0123456789"


def _udp(srv: LocalServer) -> dict[str, Any]:
    status: dict[str, Any] = srv.health()["services"]["udp_echo"]
    return status


@pytest.fixture
def limited(server_factory: Callable[..., LocalServer]) -> LocalServer:
    """A real server: UDP echo limited to 20 datagrams/s per source (burst 5), HTTP for
    its counters."""
    return server_factory(config_yaml=LIMITED, services=("udp_echo", "http"))


def _probe(srv: LocalServer, count: int, interval_s: float, **extra: Any) -> Any:
    options = {"target": f"127.0.0.1:{srv.udp_echo_port}", "count": count,
               "interval_s": interval_s, "timeout_s": 0.6, **extra}  # fmt: skip
    return run_probe("udp", options)


def test_loss_above_the_limit_is_the_servers_rate_drops(limited: LocalServer) -> None:
    before = _udp(limited)
    r = _probe(limited, 60, 0.001)  # 1000 datagrams/s against 20/s
    after = _udp(limited)
    rate_drops = after["dropped_by_reason"]["rate"] - before["dropped_by_reason"]["rate"]
    m = r.metrics
    # the server saw all 60 and the query, and dropped nothing for any other reason
    assert after["received"] - before["received"] == 61
    assert sum(after["dropped_by_reason"].values()) - sum(before["dropped_by_reason"].values()) \
        == rate_drops  # fmt: skip
    assert rate_drops >= 60 - BURST - 3  # the limit really bit
    assert m["lost_count"] == rate_drops == m["lost_rate_limited_count"]
    assert m["received_count"] == 60 - rate_drops
    assert after["rate_queries_answered"] - before["rate_queries_answered"] == 1
    assert r.status is Status.DEGRADED
    assert r.info["rate_drop_query"] == "answered" and r.info["rate_drop_queries"] == 1
    assert r.error == (
        f"{rate_drops} of 60 datagrams got no reply; all {rate_drops} dropped by the server's "
        "per-source rate limit (udp_echo.rate_limit_pps; send slower or raise it)."
    )


def test_below_the_limit_nothing_is_said_of_it(limited: LocalServer) -> None:
    before = _udp(limited)
    r = _probe(limited, 6, 0.1)  # 10 datagrams/s against 20/s
    after = _udp(limited)
    assert r.status is Status.OK and r.error is None
    assert r.metrics["lost_count"] == 0 and r.metrics["lost_rate_limited_count"] == 0
    assert r.info["rate_drop_query"] == "not needed" and r.info["rate_drop_queries"] == 0
    assert after["dropped_by_reason"]["rate"] == before["dropped_by_reason"]["rate"]
    assert after["rate_queries_answered"] == before["rate_queries_answered"]


def test_signed_queries_with_a_keyed_server(
    server_factory: Callable[..., LocalServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = server_factory(config_yaml=LIMITED, services=("udp_echo", "http"),
                         env={"WADDLEPERF_UDP_KEY": KEY})  # fmt: skip
    monkeypatch.setenv("PROBE_KEY", KEY)
    before = _udp(srv)
    r = _probe(srv, 40, 0.001, key_env="PROBE_KEY", size_bytes=64)
    rate_drops = _udp(srv)["dropped_by_reason"]["rate"] - before["dropped_by_reason"]["rate"]
    assert r.info["hmac"] is True and r.info["rate_drop_query"] == "answered"
    assert rate_drops > 0 and r.metrics["lost_rate_limited_count"] == rate_drops
    assert r.metrics["lost_count"] == rate_drops
