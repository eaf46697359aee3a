"""Step runner, plan, lock, command notification, events and the summary, without a network."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from rich.console import Console

from waddleperf.autoperf import config, plan
from waddleperf.autoperf.config import CommandConfig, ProbeSpec
from waddleperf.autoperf.events import EventHook, event_record
from waddleperf.autoperf.notify import run_command
from waddleperf.autoperf.plan import Step
from waddleperf.autoperf.policy import Breach, Transition
from waddleperf.autoperf.steps import StepRunner
from waddleperf.autoperf.summary import CycleSummary, ServerLine, render
from waddleperf.probes.base import RunContext
from waddleperf.results.model import Result


def ctx(step: Step) -> RunContext:
    return RunContext(agent="a", tier=step.tier, run_id="r")


def test_plan_aims_each_probe_at_the_right_service() -> None:
    srv = config.ServerTarget(
        name="s", host="10.1.1.1", udp_key_env="KEY",
        ports=config.Ports(http=81, tcp_echo=82, udp_echo=83, iperf=84),
        ssh=config.SshTarget(port=2222, user="root"),
    )  # fmt: skip
    names = ["icmp", "tcp", "udp", "http", "iperf", "speedtest", "rpm", "ssh", "dns", "trace"]
    specs = [ProbeSpec(probe=n) for n in names] + [
        ProbeSpec(probe="udp", label="udp_long", options={"count": 9})
    ]
    steps, skipped = plan.plan_tier(srv, 2, specs)
    opts = {s.name: s.options for s in steps}
    assert opts["tcp"] == {"target": "10.1.1.1", "port": 82}
    assert opts["udp"] == {"target": "10.1.1.1", "port": 83, "key_env": "KEY"}
    assert opts["udp_long"]["count"] == 9
    assert opts["http"] == {"target": "http://10.1.1.1:81/echo"}
    assert opts["speedtest"] == {"target": "http://10.1.1.1:81/backend/"}
    assert opts["rpm"] == {"target": "http://10.1.1.1:81/", "iperf_port": 84}
    assert opts["ssh"] == {"target": "10.1.1.1", "port": 2222, "user": "root"}
    assert opts["trace"] == {"target": "10.1.1.1"}
    assert [(s.name, s.reason) for s in skipped] == [
        ("dns", "host 10.1.1.1 is an address; set dns_name to resolve a name")
    ]


def test_plan_skips_disabled_ports() -> None:
    srv = config.ServerTarget(host="h.test", ports=config.Ports(http=0, tcp_echo=0))
    steps, skipped = plan.plan_tier(srv, 1, [ProbeSpec(probe="http"), ProbeSpec(probe="tcp")])
    assert steps == [] and [s.reason for s in skipped] == ["ports.http is 0", "ports.tcp_echo is 0"]


def test_runner_turns_exceptions_and_bad_options_into_failed_records() -> None:
    def boom(step: Step, _ctx: RunContext) -> Result:
        raise RuntimeError("kaput")

    runner = StepRunner(threading.Event(), ctx, boom)
    step = Step("s", 1, "x", "icmp", {"target": "h"})
    (outcome,) = runner.run([step], True, 5)
    rec = outcome.result
    assert outcome.step is step
    assert rec.status.value == "failed" and "kaput" in (rec.error or "")
    assert rec.kind == "probe.icmp" and rec.info == {"server": "s", "step": "x"}
    real = StepRunner(threading.Event(), ctx)
    (bad,) = real.run([Step("s", 1, "icmp", "icmp", {"target": "h", "count": 0})], False, 5)
    assert bad.result.status.value == "failed"
    assert (bad.result.error or "").startswith("invalid option count")


def _cat_to(path: Path) -> list[str]:
    code = f"import sys; open({str(path)!r}, 'wb').write(sys.stdin.buffer.read())"
    return [sys.executable, "-c", code]


def test_command_gets_the_event_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    assert run_command(CommandConfig(argv=_cat_to(out)), {"to_tier": 2})
    assert json.loads(out.read_text()) == {"to_tier": 2}


def test_command_failures_and_timeouts_are_reported_not_raised(tmp_path: Path) -> None:
    assert not run_command(CommandConfig(argv=[sys.executable, "-c", "raise SystemExit(3)"]), {})
    slow = CommandConfig(argv=[sys.executable, "-c", "import time; time.sleep(5)"], timeout_s=0.2)
    assert not run_command(slow, {})
    assert not run_command(CommandConfig(argv=[str(tmp_path / "missing")]), {})


def test_event_hook_survives_a_failing_listener() -> None:
    hook: EventHook[int] = EventHook("x")
    got: list[int] = []

    @hook.add_listener
    def _bad(_: int) -> None:
        raise ValueError("listener bug")

    hook.add_listener(got.append)
    hook.fire(7)
    assert got == [7]


def test_event_record_carries_the_reason_fields() -> None:
    cause = Breach("s", "icmp", "loss_pct", "loss_pct", 12.0, 2.0, "above", critical=True)
    rec = event_record(Transition("s", 1, 3, "critical: x", cause), "agent", "run", "10.0.0.1")
    assert rec.kind == "autoperf.event" and rec.tier == 3 and rec.target == "10.0.0.1"
    assert {k: rec.info[k] for k in ("from_tier", "to_tier", "metric", "value", "threshold")} == {
        "from_tier": 1, "to_tier": 3, "metric": "loss_pct", "value": 12.0, "threshold": 2.0
    }  # fmt: skip
    assert rec.info["event"] == "escalation" and rec.info["server"] == "s"
    down = event_record(Transition("s", 3, 1, "cleared"), "agent", "run", "h")
    assert down.info["event"] == "deescalation" and down.info["metric"] is None


def test_summary_renders_reasons_and_serialises() -> None:
    summary = CycleSummary("r" * 32, 1, "agent", "2026-01-01T00:00:00Z")
    summary.servers["s"] = ServerLine("s", 1, 3, [1, 2, 3], ["tier-1 breach: icmp rtt"])
    summary.events.append({"server": "s", "from_tier": 1, "to_tier": 2, "reason": "why"})
    console = Console(record=True, width=120)
    console.print(render(summary))
    text = console.export_text()
    assert "tier-1 breach: icmp rtt" in text and "1 → 2" in text
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["max_tier"] == 3 and data["servers"][0]["notes"] == ["tier-1 breach: icmp rtt"]
