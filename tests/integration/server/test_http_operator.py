"""Operator data behind access control, over real HTTP: /stats refused (403, JSON) from an
address outside ``operator.allowed_networks`` without the token, allowed with it; /health's
counters likewise; the profiler's remote source carries the token."""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import start_server
from waddleperf.localstack import LocalServer
from waddleperf.profiling.sampler import RemoteStatsSource, stats_token

TOKEN = secrets.token_hex(16)
TOKEN_ENV = "WP_TEST_OPERATOR_TOKEN"
env = {TOKEN_ENV: TOKEN}
OUTSIDE = "127.0.0.5"  # local, but not in the allowed 127.0.0.1/32
CONFIG = (
    "operator:\n  allowed_networks: [127.0.0.1/32]\n"
    f"  token_env: {TOKEN_ENV}\n"
    "stats:\n  targets:\n    - {name: self, process_name: nonexistent-process-xyz}\n"
)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server that lets 127.0.0.1 in, and anyone else only with the token."""
    srv = start_server(
        tmp_path_factory.mktemp("operator"),
        services=("http", "tcp_echo"),
        config_yaml=CONFIG,
        env={TOKEN_ENV: TOKEN},
        ready_timeout=40,
    )
    try:
        yield srv
    finally:
        srv.stop()
    assert "Traceback" not in srv.log()


def _get(
    srv: LocalServer, path: str, source: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(
        srv.host, srv.http_port, timeout=10, source_address=(source, 0)
    )
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        assert resp.getheader("Content-Type", "").startswith("application/json")
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_stats_refused_from_outside_without_the_token(guarded: LocalServer) -> None:
    for headers in (
        {},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"X-Forwarded-For": "127.0.0.1"},  # no trusted proxy: the header is not believed
    ):
        status, doc = _get(guarded, "/stats", OUTSIDE, headers)
        assert status == 403, headers
        assert doc["status"] == 403 and "operator" in doc["error"], doc
        assert "server" not in doc and "system" not in doc


def test_stats_allowed_with_the_token_or_from_an_allowed_address(guarded: LocalServer) -> None:
    status, doc = _get(guarded, "/stats", OUTSIDE, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and doc["server"]["process_count"] >= 1
    assert doc["targets"][0]["name"] == "self"
    status, doc = _get(guarded, "/stats", "127.0.0.1")
    assert status == 200 and "system" in doc


def test_health_keeps_its_counters_for_the_operator(guarded: LocalServer) -> None:
    status, public = _get(guarded, "/health", OUTSIDE)
    assert status == 200 and public["restricted"] is True
    assert public["services"]["tcp_echo"] == {
        "state": "running",
        "port": guarded.tcp_echo_port,
    }
    assert public["version"] and public["uptime_s"] >= 0
    status, full = _get(guarded, "/health", OUTSIDE, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and "restricted" not in full
    assert "total" in full["services"]["tcp_echo"]
    assert "connections" in full["services"]["http"]


def test_the_profilers_remote_source_carries_the_token(tmp_path: Path) -> None:
    # Token only: not even loopback is let in without it.
    srv = start_server(
        tmp_path,
        services=("http",),
        config_yaml=f"operator: {{allowed_networks: [], token_env: {TOKEN_ENV}}}\n",
        env={TOKEN_ENV: TOKEN},
        ready_timeout=40,
    )
    try:
        url = srv.base_url + "/stats"
        assert RemoteStatsSource("s", url, "server").sample() is None  # 403
        with_token = RemoteStatsSource("s", url, "server", token=stats_token(TOKEN_ENV, env))
        sample = with_token.sample()
        assert sample is not None and sample["source"] == "s" and sample["rss_mb"] > 0
        assert _get(srv, "/stats", "127.0.0.1")[0] == 403
    finally:
        srv.stop()


def test_an_unset_token_variable_is_named() -> None:
    with pytest.raises(ValueError, match="WP_NOT_SET"):
        stats_token("WP_NOT_SET", {})
    assert stats_token(None, {}) is None
