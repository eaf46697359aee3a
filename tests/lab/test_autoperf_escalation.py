"""AutoPerf in the network lab: injected delay or loss triggers exactly the expected tier
changes, and removing the impairment brings the agent back to tier 1 over the next cycles.

The agent runs as a daemon in the client namespace (``--json``: one summary line per cycle);
the test changes the path between cycles, right after a summary arrives — the interval leaves
seconds of quiet before the next cycle starts. The delay test then reports the run's bundles
offline (``lab_report``): escalations, tiers and latency held against bundles and delayers.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab.accuracy import hold_ms, reset_holds
from tests.lab.lab_report import Phase, check_report
from tests.lab.netlab import Lab
from tests.lab.netlab.refstats import binomial_bounds
from tests.lab.netlab.services import LabServer

pytestmark = pytest.mark.lab
WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


def agent_config(
    tmp: Path, srv: LabServer, interval_s: float, tiers: dict[str, Any] | None = None
) -> Path:
    """The agent's configuration; ``tiers`` replaces whole tier sections."""
    doc: dict[str, Any] = {
        "servers": [{"name": "lab", "host": srv.host}],
        "tiers": {
            "interval_s": interval_s,
            "jitter_pct": 0,
            "tier1": {
                "probes": [
                    {"probe": "icmp", "options": {"count": 5, "interval_s": 0.05, "timeout_s": 1}},
                    {"probe": "tcp", "options": {"count": 3, "interval_s": 0.05, "timeout_s": 0.5}},
                    {"probe": "udp", "options": {"count": 50, "interval_s": 0.005, "timeout_s": 1}},
                    {"probe": "http", "options": {"count": 2, "timeout_s": 1}},
                ],
                "thresholds": {"rtt_ms": 40, "loss_pct": 2, "critical_loss_pct": 10},
            },
            "tier2": {
                "probes": [{"probe": "udp", "label": "udp_long",
                            "options": {"count": 100, "interval_s": 0.005, "timeout_s": 1}}],
                "thresholds": {"rtt_ms": None, "jitter_ms": None, "loss_pct": None},
            },
            "tier3": {"probes": [], "load": False},
        },
        "hysteresis": {"breaches": 2, "critical_breaches": 1, "cooldown_s": 0},
        "storage": {"spool_dir": str(tmp / "spool"), "store": {"dir": str(tmp / "store")}},
    }  # fmt: skip
    doc["tiers"].update(tiers or {})
    path = tmp / "autoperf.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


class Agent:
    """The agent process in the client namespace; ``cycle()`` returns the next summary."""

    def __init__(self, lab: Lab, config: Path, tmp: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_")}
        self.log = tmp / "agent.log"
        with self.log.open("wb") as err:
            self.proc = lab.client.ns.popen(
                [WADDLEPERF, "autoperf", "--config", str(config), "--json"],
                stdout=subprocess.PIPE, stderr=err, env=env, cwd=tmp,
            )  # fmt: skip
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def cycle(self, timeout: float = 30.0) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.lines.get(timeout=timeout))
        except queue.Empty:
            pytest.fail(f"no cycle summary in {timeout} s: {self.log.read_text()[-2000:]}")
        return data

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)


@pytest.fixture
def agent_factory(lab: Lab, lab_server: LabServer, tmp_path: Path) -> Iterator[Any]:
    started: list[Agent] = []

    def make(interval_s: float, tiers: dict[str, Any] | None = None) -> Agent:
        agent = Agent(lab, agent_config(tmp_path, lab_server, interval_s, tiers), tmp_path)
        started.append(agent)
        return agent

    yield make
    for agent in started:
        if agent.proc.poll() is None:
            agent.stop()


def transitions(summary: dict[str, Any]) -> list[tuple[int, int]]:
    return [(e["from_tier"], e["to_tier"]) for e in summary["events"]]


def test_delay_escalates_to_tier2_after_two_cycles_and_clears(
    lab: Lab, agent_factory: Any, tmp_path: Path
) -> None:
    lab.set_link(0, "both", delay_ms=30)  # RTT ≈ 60 ms against a 40 ms threshold
    reset_holds(lab)  # what the delayers hold from here on is the report's truth below
    agent = agent_factory(4.0)
    first = agent.cycle()
    assert transitions(first) == [] and first["max_tier"] == 1
    assert "breach cycle 1/2" in first["servers"][0]["notes"][0]
    second = agent.cycle()
    assert transitions(second) == [(1, 2)] and second["max_tier"] == 2
    event = second["events"][0]
    assert event["threshold"] == 40 and event["value"] > 55 and event["server"] == "lab"
    delayed = Phase(datetime.now(UTC), hold_ms(lab, "p50"))
    lab.set_link(0, "both", delay_ms=0)
    reset_holds(lab)
    third = agent.cycle()
    assert transitions(third) == [(2, 1)] and third["max_tier"] == 1
    assert str(third["events"][0]["reason"]).startswith("cleared")
    fourth = agent.cycle()
    assert transitions(fourth) == [] and fourth["max_tier"] == 1
    cleared = Phase(None, hold_ms(lab, "p50"))
    assert agent.stop() == 0
    # The offline report of this run's bundles (the escalation, its tiers, the delay it saw).
    check_report(tmp_path / "store", tmp_path / "report", [delayed, cleared],
                 cycles=4, changes=[(1, 2), (2, 1)])  # fmt: skip


def test_critical_loss_goes_straight_to_tier3_and_clears(lab: Lab, agent_factory: Any) -> None:
    lab.set_link(0, "up", loss_pct=30)  # far past the 10 % critical loss threshold
    agent = agent_factory(6.0)
    first = agent.cycle()
    assert transitions(first) == [(1, 3)] and first["max_tier"] == 3
    event = first["events"][0]
    assert event["critical"] is True and event["metric"] == "loss_pct"
    assert event["value"] > 10 and event["threshold"] == 10
    lab.set_link(0, "up", loss_pct=0)
    second = agent.cycle()
    assert transitions(second) == [(3, 1)] and second["max_tier"] == 1
    third = agent.cycle()
    assert transitions(third) == [] and third["max_tier"] == 1
    assert agent.stop() == 0


# Tier 2 with a loss threshold of its own, reached through tier 1: loss on the way out, well past
# tier 1's 2 % and tier 2's 3 %, no critical threshold (nothing may skip tier 2). Tier 1 is one
# udp run, so the event names it (a lost SYN of a tcp step would be the worst breach instead).
LOSS_PCT = 8.0
T1_UDP, T2_UDP = 300, 400
T1_LOSS_PCT, T2_LOSS_PCT = 2.0, 3.0
TIERS_2_TO_3: dict[str, Any] = {
    "tier1": {
        "probes": [
            {"probe": "udp", "options": {"count": T1_UDP, "interval_s": 0.002, "timeout_s": 1}},
        ],
        "thresholds": {"rtt_ms": 40, "loss_pct": T1_LOSS_PCT, "critical_loss_pct": None},
    },
    "tier2": {
        "probes": [{"probe": "udp", "label": "udp_long",
                    "options": {"count": T2_UDP, "interval_s": 0.002, "timeout_s": 1}}],
        "thresholds": {"rtt_ms": None, "jitter_ms": None, "loss_pct": T2_LOSS_PCT},
    },
    # Tier 3 kept cheap: one short probe, no load.
    "tier3": {"probes": [{"probe": "icmp", "label": "icmp_t3",
                          "options": {"count": 3, "interval_s": 0.05, "timeout_s": 1}}],
              "load": False},
}  # fmt: skip


def steps(summary: dict[str, Any], tier: int) -> list[dict[str, Any]]:
    return [s for s in summary["steps"] if s["tier"] == tier]


def test_tier2_breach_escalates_to_tier3_and_clears(lab: Lab, agent_factory: Any) -> None:
    # The chance that a tier's udp run shows no breach at 8 % loss (at most 2 % of 300 lost, or
    # 3 % of 400) is below 1e-4 per cycle (exact binomial tail): the path below is certain.
    assert binomial_bounds(T1_UDP, LOSS_PCT / 100, 0.9998)[0] > T1_UDP * T1_LOSS_PCT / 100
    assert binomial_bounds(T2_UDP, LOSS_PCT / 100, 0.9998)[0] > T2_UDP * T2_LOSS_PCT / 100
    lab.set_link(0, "up", loss_pct=LOSS_PCT)
    agent = agent_factory(4.0, TIERS_2_TO_3)
    first = agent.cycle()
    assert transitions(first) == [] and first["max_tier"] == 1, first
    assert "breach cycle 1/2" in first["servers"][0]["notes"][0]
    # K = 2 tier-1 breaches: tier 2 runs in the same cycle, its first breach counts 1/2.
    second = agent.cycle()
    assert transitions(second) == [(1, 2)] and second["max_tier"] == 2, second
    up = second["events"][0]
    assert (up["server"], up["step"], up["metric"]) == ("lab", "udp", "loss_pct"), up
    assert up["threshold"] == T1_LOSS_PCT and up["value"] > T1_LOSS_PCT and not up["critical"]
    assert [s["step"] for s in steps(second, 2)] == ["udp_long"]
    assert "tier-2 breach cycle 1/2 consecutive" in second["servers"][0]["notes"], second
    # Second tier-2 breach in a row: 2 → 3 after tier 2, and tier 3 runs in the same cycle.
    third = agent.cycle()
    assert transitions(third) == [(2, 3)] and third["max_tier"] == 3, third
    assert third["servers"][0]["tiers_run"] == [1, 2, 3]
    to3 = third["events"][0]
    assert (to3["server"], to3["step"], to3["metric"]) == ("lab", "udp_long", "loss_pct"), to3
    assert to3["threshold"] == T2_LOSS_PCT and to3["value"] > T2_LOSS_PCT, to3
    assert to3["critical"] is False and str(to3["reason"]).startswith("tier-2 breach"), to3
    # It ran (through the same 8 % loss: ok or degraded, not failed).
    ran = [(s["step"], s["status"]) for s in steps(third, 3)]
    assert ran in ([("icmp_t3", "ok")], [("icmp_t3", "degraded")]), third
    print(f"escalation events: {second['events'] + third['events']}")
    lab.set_link(0, "up", loss_pct=0)
    fourth = agent.cycle()
    assert transitions(fourth) == [(3, 1)] and fourth["max_tier"] == 1, fourth
    assert str(fourth["events"][0]["reason"]).startswith("cleared")
    fifth = agent.cycle()
    assert transitions(fifth) == [] and fifth["max_tier"] == 1, fifth
    assert agent.stop() == 0
