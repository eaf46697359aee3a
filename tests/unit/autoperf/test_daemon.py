"""The agent's cycle with fake probes and load: tiers, events, sink, cancellation."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.unit.autoperf.fakes import FakeLoad, FakeProbes, make_config
from waddleperf.autoperf.daemon import Agent, observation
from waddleperf.autoperf.events import EVENT_KIND, Events, TransitionEvent
from waddleperf.autoperf.loadrun import LOAD_KIND
from waddleperf.autoperf.plan import Step
from waddleperf.autoperf.sink import DirectorySink, read_cycle
from waddleperf.autoperf.steps import StepOutcome
from waddleperf.probes.base import RunContext
from waddleperf.results.model import Result

SLOW = {"rtt_avg_ms": 150.0}
CTX = RunContext(agent="a", tier=1, run_id="r")


def agent(tmp_path: Path, probes: FakeProbes, **sections: object) -> tuple[Agent, FakeLoad]:
    load = FakeLoad()
    cfg = make_config(tmp_path, **sections)
    sink = DirectorySink(tmp_path / "out")
    return Agent(cfg, sink, probe=probes, load=load, work_dir=tmp_path / "work"), load


def events_of(records: list[Result]) -> list[tuple[object, object]]:
    return [(r.info["from_tier"], r.info["to_tier"]) for r in records if r.kind == EVENT_KIND]


def test_healthy_cycle_runs_tier1_only(tmp_path: Path) -> None:
    probes = FakeProbes()
    ag, load = agent(tmp_path, probes)
    summary = ag.run_cycle()
    assert sorted(probes.names(1)) == ["dns", "http", "icmp", "tcp", "udp"]
    assert probes.names(2) == [] and load.jobs == []
    assert summary.max_tier == 1 and summary.events == []
    assert summary.output is not None
    records = read_cycle(Path(summary.output))
    assert len(records) == 5 and all(r.tier == 1 for r in records)
    assert all(r.info["server"] == "lo" for r in records)
    assert (Path(summary.output) / "raw" / "autoperf-cycle.json").exists()


def test_once_escalates_through_all_tiers_in_one_cycle(tmp_path: Path) -> None:
    # One breach per tier, each in its own step: tier 1's slow icmp, tier 2's jittery udp_long
    # (a label of its own, so tier 1's udp step stays healthy and cannot be the cause).
    probes = FakeProbes()
    probes.figures = {"icmp": SLOW, "udp_long": {"jitter_ms": 99.0}}
    tier2 = {"probes": [{"probe": "udp", "label": "udp_long"}, "iperf"]}
    ag, load = agent(tmp_path, probes, tiers={"tier2": tier2})
    summary = ag.run_cycle(once=True)
    assert probes.names(2) == ["udp_long", "iperf"] and probes.names(3) == ["iperf_down"]
    assert [s.name for s in load.jobs] == ["flask"]
    assert load.jobs[0].stats_url == "http://127.0.0.1:8080/stats"
    records = read_cycle(Path(summary.output or ""))
    assert events_of(records) == [(1, 2), (2, 3)]
    first, second = (r.info for r in records if r.kind == EVENT_KIND)
    causes = [
        (i["server"], i["step"], i["metric"], i["value"], i["threshold"]) for i in (first, second)
    ]
    assert causes == [("lo", "icmp", "rtt_avg_ms", 150.0, 100.0),
                      ("lo", "udp_long", "jitter_ms", 99.0, 30.0)]  # fmt: skip
    assert "rtt_avg_ms 150 > 100" in str(first["reason"])
    load_rec = next(r for r in records if r.kind == LOAD_KIND)
    assert load_rec.tier == 3 and load_rec.run_id == summary.run_id
    # the load run is given the run's context; the agent patches nothing onto its record
    assert load.contexts == [RunContext(agent=ag.agent, tier=3, run_id=summary.run_id)]
    assert load_rec.agent == ag.agent
    assert (load_rec.info["server"], load_rec.info["step"]) == ("lo", "load flask")
    assert [(x.server, x.step) for x in summary.load] == [("lo", "load flask")]
    profiling = (Path(summary.output or "") / "profiling.ndjson").read_text()
    assert '"cpu_pct"' in profiling
    assert summary.servers["lo"].tiers_run == [1, 2, 3]


def test_without_once_two_breaches_are_needed_and_clear_returns_to_1(tmp_path: Path) -> None:
    probes = FakeProbes()
    probes.figures = {"icmp": SLOW}
    ag, _ = agent(tmp_path, probes)
    assert ag.run_cycle().max_tier == 1
    second = ag.run_cycle()
    assert second.max_tier == 2 and [(e["from_tier"], e["to_tier"]) for e in second.events] == [
        (1, 2)
    ]
    probes.figures = {}
    third = ag.run_cycle()
    assert third.max_tier == 1
    assert [(e["from_tier"], e["to_tier"]) for e in third.events] == [(2, 1)]
    assert str(third.events[0]["reason"]).startswith("cleared")


def test_critical_loss_goes_to_tier3_and_events_fire(tmp_path: Path) -> None:
    probes = FakeProbes()
    probes.figures = {"udp": {"loss_pct": 40.0}}
    events = Events()
    heard: list[TransitionEvent] = []
    events.transition.add_listener(heard.append)
    ag, load = agent(tmp_path, probes)
    ag.events = events
    ag.run_cycle()
    seen = [e.record for e in heard]
    assert [(e.transition.from_tier, e.transition.to_tier) for e in heard] == [(1, 3)]
    assert [(r.info["from_tier"], r.info["to_tier"]) for r in seen] == [(1, 3)]
    assert seen[0].info["value"] == 40.0 and seen[0].info["threshold"] == 10.0
    assert len(load.jobs) == 1


def test_force_tier_runs_only_that_tier(tmp_path: Path) -> None:
    probes = FakeProbes()
    ag, load = agent(tmp_path, probes)
    summary = ag.run_cycle(force_tier=2)
    assert probes.names(1) == [] and probes.names(2) == ["udp", "iperf"]
    assert summary.events[0]["reason"] == "forced by --force-tier" and load.jobs == []


def test_unknown_probe_and_skips_are_records_not_crashes(tmp_path: Path) -> None:
    from waddleperf.autoperf.steps import call_probe

    cfg = make_config(
        tmp_path,
        servers=[{"name": "lo", "host": "127.0.0.1"}],  # an address: no dns step
        tiers={"tier1": {"probes": ["nosuchprobe", "dns"]}},
    )  # fmt: skip
    ag = Agent(cfg, DirectorySink(tmp_path / "out"), probe=call_probe)
    summary = ag.run_cycle()
    (rec,) = read_cycle(Path(summary.output or ""))
    assert rec.status.value == "failed" and "not available" in (rec.error or "")
    assert summary.skipped[0]["name"] == "dns" and "address" in summary.skipped[0]["reason"]
    # a failed tier-1 probe is a breach (failure: true): one step nearer to tier 2
    assert ag.states["lo"].streak == 1


def test_stop_cancels_a_hanging_probe_and_still_writes_the_cycle(tmp_path: Path) -> None:
    probes = FakeProbes()
    probes.hang = {"icmp"}
    ag, _ = agent(tmp_path, probes)
    threading.Timer(0.3, ag.stop.set).start()
    began = time.monotonic()
    summary = ag.run_cycle()
    # The probe would hang 30 s: ending in well under half of that is the cancellation, on a
    # machine however busy (a bound near 0.3 s would be a verdict on its scheduling).
    assert time.monotonic() - began < 15
    assert summary.stopped
    records = read_cycle(Path(summary.output or ""))
    icmp = next(r for r in records if r.info["step"] == "icmp")
    assert icmp.status.value == "failed" and "cancelled" in (icmp.error or "")
    assert len(records) == 5


def test_step_timeout_fails_the_unfinished(tmp_path: Path) -> None:
    probes = FakeProbes()
    probes.hang = {"tcp"}
    ag, _ = agent(tmp_path, probes, tiers={"tier1": {"step_timeout_s": 0.3,
                                                     "probes": ["tcp", "icmp"]}})  # fmt: skip
    summary = ag.run_cycle()
    tcp = next(s for s in summary.steps if s.step == "tcp")
    assert tcp.status == "failed" and "step_timeout_s" in (tcp.error or "")


def test_run_forever_counts_cycles_and_honours_stop(tmp_path: Path) -> None:
    probes = FakeProbes()
    ag, _ = agent(tmp_path, probes)
    seen: list[int] = []
    assert ag.run_forever(lambda s: seen.append(s.cycle), max_cycles=3) == 3
    assert seen == [1, 2, 3]
    ag.stop.set()
    assert ag.run_forever(lambda s: None) == 0


def test_a_failing_cycle_does_not_end_the_daemon(tmp_path: Path) -> None:
    probes = FakeProbes()
    ag, _ = agent(tmp_path, probes)
    calls: list[int] = []

    def show(summary: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("display broke")

    assert ag.run_forever(show, max_cycles=2) == 2 and len(calls) == 2
    calls.clear()
    with pytest.raises(RuntimeError, match="display broke"):  # --once reports it to the caller
        ag.run_forever(show, once=True)


def test_decisions_take_server_and_step_from_the_step_not_the_record(tmp_path: Path) -> None:
    # A record whose info names another server and step (a probe is free to put anything in
    # info) changes nothing: the policy and the summary hear what the step says.
    probes = FakeProbes()
    probes.figures = {"icmp": SLOW}
    probes.info = {"server": "elsewhere", "step": "bogus"}
    ag, _load = agent(tmp_path, probes)
    summary = ag.run_cycle(once=True)
    assert summary.servers["lo"].tier_after == 2
    assert [e["step"] for e in summary.events] == ["icmp"]
    assert {s.server for s in summary.steps} == {"lo"} and "bogus" not in {
        s.step for s in summary.steps
    }
    outcome = StepOutcome(Step("lo", 1, "udp_long", "udp"), probes(Step("x", 1, "y", "tcp"), CTX))
    obs = observation(outcome)
    assert (obs.server, obs.step, obs.probe) == ("lo", "udp_long", "udp")
