"""A real Prometheus scrapes a real agent and a real server: the series it stores hold the
figures of the bundles the same cycles wrote (same numbers, in base units)."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.agentconf import quick_tiers, server_entry, write_agent
from tests.support.agentproc import AgentProcess
from tests.support.metrics import figure
from tests.support.prom import Prometheus, scrape_job, start_prometheus
from waddleperf.localstack import LocalServer, free_port
from waddleperf.results.model import Result, Status
from waddleperf.results.reader import read_bundle

pytestmark = pytest.mark.slow
TOKEN_ENV = "WP_TEST_METRICS_TOKEN"
CYCLES_WANTED = 3


def _cycles(bundles: list[Path]) -> dict[int, tuple[dict[str, Any], list[Result]]]:
    """Each bundle's cycle number → (its cycle summary, its records)."""
    out = {}
    for path in bundles:
        content = read_bundle(path)
        summary = json.loads(content.raw["autoperf-cycle.json"])
        out[int(summary["cycle"])] = (summary, content.results)
    return out


def _record(records: list[Result], step: str, tier: int) -> Result | None:
    return next((r for r in records if r.info.get("step") == step and r.tier == tier), None)


def _paired(prom: Prometheus, expr: str, start: float, end: float) -> list[tuple[int, float]]:
    """(cycle number, value) of ``expr`` at each step: both series come from the same scrape."""
    cycles = {t: v for s in prom.query_range("waddleperf_cycles_total", start, end, 0.25)
              for t, v in s["values"]}  # fmt: skip
    pairs = []
    found = prom.query_range(expr, start, end, 0.25)
    assert len(found) <= 1, f"{expr} matches more than one series: {found}"
    for series in found:
        for t, v in series["values"]:
            if t in cycles:
                pairs.append((int(float(cycles[t])), float(v)))
    return pairs


def _wait_cycles(prom: Prometheus, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = prom.query("max(waddleperf_cycles_total)")
        if found and float(found[0]["value"][1]) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus saw fewer than {count} cycles: {prom.log.read_text()[-800:]}")


def test_prometheus_stores_what_the_bundles_hold(
    tmp_path: Path, server_factory: Callable[..., LocalServer]
) -> None:
    token = secrets.token_hex(16)
    server = server_factory(
        env={TOKEN_ENV: token},
        config_yaml=f"operator: {{allowed_networks: [], token_env: {TOKEN_ENV}}}\n",
    )
    token_file = tmp_path / "token"
    token_file.write_text(token)
    base = f"http://{server.host}:{server.http_port}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/metrics", timeout=5)
    assert refused.value.code == 403  # /stats' access control: no token, not an operator net
    # every cycle breaches tier 1 (rtt over 1 ns): cycle 1 escalates, tier 2 runs iperf
    tiers = quick_tiers(interval_s=2, tier1={"thresholds": {"rtt_ms": 0.000001}})
    run = write_agent(tmp_path, {"servers": [server_entry(server)], "tiers": tiers,
                                 "hysteresis": {"breaches": 1}})  # fmt: skip
    metrics_port = free_port()
    agent = AgentProcess.start(run.argv("--json", "--metrics-listen", str(metrics_port)),
                               run.env(), tmp_path, "agent")  # fmt: skip
    prom: Prometheus | None = None
    try:
        server_at = f"{server.host}:{server.http_port}"
        jobs = [
            scrape_job("agent", [f"127.0.0.1:{metrics_port}"]),
            scrape_job("server", [server_at], token_file),
        ]
        prom = start_prometheus(tmp_path / "prom", jobs, interval_s=0.5)
        start = time.time()
        _wait_cycles(prom, CYCLES_WANTED, 90)
        assert agent.terminate() == 0, agent.log()[-2000:]
        time.sleep(1.5)  # a few scrapes of the server after the agent's last datagram
        end = time.time()
        _check_agent(prom, _cycles(run.bundles()), start, end)
        # a probe cut short by the stop is in its bundle as failed ("cancelled"), no figures
        done = [r for _, (_, rs) in _cycles(run.bundles()).items() for r in rs]
        _check_server(prom, [r for r in done if r.status is Status.OK])
    finally:
        agent.kill()
        if prom is not None:
            prom.stop()


def _check_agent(prom: Prometheus, cycles: dict[int, Any], start: float, end: float) -> None:
    assert len(cycles) >= CYCLES_WANTED
    checks = {
        'waddleperf_rtt_seconds{step="icmp",tier="1",stat="avg"}': ("icmp", 1, "rtt_avg_ms", 1e-3),
        'waddleperf_rtt_seconds{step="udp",tier="1",stat="p99"}': ("udp", 1, "rtt_p99_ms", 1e-3),
        'waddleperf_loss_ratio{step="udp",tier="1"}': ("udp", 1, "loss_pct", 1e-2),
        'waddleperf_rtt_seconds{step="tcp",tier="1",stat="avg"}':
            ("tcp", 1, "connect_avg_ms", 1e-3),
        'waddleperf_throughput_bits_per_second{step="iperf",direction="received"}':
            ("iperf", 2, "received_throughput_mbps", 1e6),
    }  # fmt: skip
    for expr, (step, tier, metric, scale) in checks.items():
        pairs = _paired(prom, expr, start, end)
        assert pairs, f"no samples of {expr}"
        for cycle, value in pairs:
            record = _record(cycles[cycle][1], step, tier)
            assert record is not None, f"{expr} has a value in cycle {cycle}, the bundle no record"
            assert value == pytest.approx(figure(record.metrics, metric) * scale, rel=1e-9), expr
        assert len({c for c, _ in pairs}) >= (1 if tier == 2 else 2), (expr, pairs)
    for cycle, value in _paired(prom, 'waddleperf_tier{server="lo"}', start, end):
        (line,) = cycles[cycle][0]["servers"]
        assert value == line["tier_after"]
    escalated = _paired(prom, 'waddleperf_escalations_total{reason="rtt_ms",to_tier="2"}',
                        start, end)  # fmt: skip
    assert escalated and all(v == 1 for _, v in escalated)  # cycle 1's escalation, counted once
    (build,) = prom.query("last_over_time(waddleperf_build_info[1m])")  # the agent is gone
    assert build["metric"]["agent"] == cycles[1][0]["agent"]


def _check_server(prom: Prometheus, records: list[Result]) -> None:
    def value(expr: str) -> float:
        (sample,) = prom.query(expr)
        return float(sample["value"][1])

    assert value('up{job="server"}') == 1  # scraped with the token
    udp = [r for r in records if r.kind == "probe.udp"]
    received = sum(figure(r.metrics, "received_count") for r in udp)
    assert value('waddleperf_server_udp_datagrams_total{direction="out"}') >= received > 0
    assert value('waddleperf_server_udp_bytes_total{direction="in"}') > 0
    http_ok = sum(figure(r.metrics, "ok_count") for r in records if r.kind == "probe.http")
    assert value('waddleperf_server_http_requests_total{endpoint="echo",status="200"}') >= http_ok
    tcp_ok = sum(figure(r.metrics, "ok_count") for r in records if r.kind == "probe.tcp")
    assert value('waddleperf_server_connections_total{service="tcp_echo"}') >= tcp_ok > 0
    assert value('waddleperf_server_service_state{service="iperf",state="running"}') == 1
    assert value('waddleperf_server_dropped_total{service="udp_echo",reason="hmac"}') == 0
