"""The demo's parts: the services aimed by the agent's plan, the agent config, the table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from waddleperf.autoperf.agent import load_checked
from waddleperf.autoperf.demo import SERVICES, TIER, agent_config, local_server
from waddleperf.autoperf.plan import plan_tier
from waddleperf.autoperf.summary import HEADLINE, StepLine, step_line, steps_table
from waddleperf.results.model import Result, Status, utc_now

PORTS = {"http": 18080, "tcp_echo": 12001, "udp_echo": 12000, "iperf": 15201}


def test_each_service_is_aimed_at_its_port_by_the_agents_plan() -> None:
    steps, skipped = plan_tier(local_server("127.0.0.1", PORTS), TIER, SERVICES)
    assert skipped == []
    aimed = {s.name: (s.probe, s.options) for s in steps}
    assert aimed == {
        "HTTP echo": ("http", {"target": "http://127.0.0.1:18080/echo", "count": 5}),
        "LibreSpeed": ("speedtest", {"target": "http://127.0.0.1:18080/backend/"}),
        "TCP echo": ("tcp", {"target": "127.0.0.1", "port": 12001, "count": 5}),
        "UDP echo": ("udp", {"target": "127.0.0.1", "port": 12000, "count": 50,
                             "interval_s": 0.01}),
        "ICMP": ("icmp", {"target": "127.0.0.1", "count": 5, "interval_s": 0.05}),
        "iperf3": ("iperf", {"target": "127.0.0.1", "port": 15201}),
    }  # fmt: skip
    _, off = plan_tier(local_server("127.0.0.1", {**PORTS, "iperf": 0}), TIER, SERVICES)
    assert [(s.name, s.reason) for s in off] == [("iperf3", "ports.iperf is 0")]


def test_the_demo_agent_config_is_a_valid_config_with_this_runs_places(tmp_path: Path) -> None:
    path = agent_config("127.0.0.1", PORTS, "http://127.0.0.1:18001", tmp_path / "agent.yml")
    cfg = load_checked(path, environ={})
    assert cfg.servers[0].ports.model_dump() == PORTS
    assert cfg.targets[0].url == "http://127.0.0.1:18001" and cfg.targets[0].stats_server
    assert cfg.tiers.tier1.thresholds.rtt_ms == 0.001  # the demo's climb through the tiers


def test_steps_table_shows_figures_or_the_error() -> None:
    now = utc_now()
    ok = Result(
        kind="probe.tcp",
        target="127.0.0.1",
        started_at=now,
        finished_at=now,
        metrics={"connect_avg_ms": 0.05, "failure_pct": 0.0},
        status=Status.OK,
    )
    bad = Result(kind="probe.iperf", target="127.0.0.1", started_at=now, finished_at=now,
                 status=Status.FAILED, error="connection refused")  # fmt: skip
    lines = [step_line("local", "TCP echo", ok), step_line("local", "iperf3", bad),
             StepLine("local", TIER, "ICMP", "skipped", "", "ports.icmp is 0", "icmp")]  # fmt: skip
    assert lines[0].figures == "connect_avg_ms=0.050, failure_pct=0.000"
    assert (lines[0].probe, lines[1].probe) == ("tcp", "iperf")
    assert HEADLINE["tcp"] == ("connect_avg_ms", "failure_pct")
    console = Console(width=200, record=True)
    console.print(steps_table("demo", lines))
    rows = {r.split("│")[1].strip(): r for r in console.export_text().splitlines() if "│" in r}
    assert rows["TCP echo"].split("│")[2].strip() == "tcp"
    assert " ok " in rows["TCP echo"] and "connect_avg_ms=0.050" in rows["TCP echo"]
    assert " failed " in rows["iperf3"] and "connection refused" in rows["iperf3"]
    assert " skipped " in rows["ICMP"] and "ports.icmp is 0" in rows["ICMP"]
