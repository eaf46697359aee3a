"""The agent as the command runs it: configuration checked, parts wired, cycles run, closed."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest
import yaml

from tests.unit.autoperf.fakes import FakeLoad, FakeProbes, make_config
from waddleperf.autoperf.agent import (
    EXIT_OK,
    build_agent,
    describe,
    load_checked,
    run_agent,
)
from waddleperf.autoperf.sink import DirectorySink
from waddleperf.autoperf.summary import CycleSummary
from waddleperf_common.config import ConfigError

#: Appends each event JSON it gets on stdin to the file named by its argument, one a line.
APPEND = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read().strip() + '\\n')"


def test_load_checked_names_every_bad_probe_before_anything_runs(tmp_path: Path) -> None:
    user = tmp_path / "agent.yml"
    tier1 = {"probes": [{"probe": "icmpp"}, {"probe": "icmp", "options": {"cnt": 5}}]}
    user.write_text(yaml.safe_dump({"tiers": {"tier1": tier1}}))
    with pytest.raises(ConfigError) as caught:
        load_checked(user, environ={})
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid configuration:"
    assert lines[1].startswith("tiers.tier1.probes[0].probe: unknown probe 'icmpp' (known: ")
    assert lines[2].startswith("tiers.tier1.probes[1].options.cnt: unknown option cnt = 5")


def test_describe_says_what_will_run(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    assert describe(cfg) == ("1 server(s), 1 load target(s), tier 1/2/3 probes 5/2/1, every 0.05 s")


def test_escalations_are_notified_and_flushed_when_the_agent_closes(tmp_path: Path) -> None:
    got = tmp_path / "events.ndjson"
    notify = {"command": {"argv": [sys.executable, "-c", APPEND, str(got)]}}
    tier2 = {"probes": [{"probe": "udp", "label": "udp_long"}, "iperf"]}
    cfg = make_config(tmp_path, notify=notify, tiers={"tier2": tier2})
    probes = FakeProbes()
    probes.figures = {"icmp": {"rtt_avg_ms": 150.0}, "udp_long": {"jitter_ms": 99.0}}
    sink = DirectorySink(tmp_path / "out")
    agent = build_agent(cfg, sink=sink, probe=probes, load=FakeLoad())
    quitting: list[bool] = []
    agent.events.quitting.add_listener(quitting.append)
    summaries: list[CycleSummary] = []
    assert run_agent(agent, summaries.append, once=True) == EXIT_OK
    assert [s.max_tier for s in summaries] == [3] and quitting == [False]
    # run_agent returned after the notifier's queue was flushed: both events were delivered
    sent = [json.loads(line) for line in got.read_text().splitlines()]
    assert [(e["info"]["from_tier"], e["info"]["to_tier"]) for e in sent] == [(1, 2), (2, 3)]
    assert {e["run_id"] for e in sent} == {summaries[0].run_id}


def test_a_stopped_agent_runs_no_cycle_and_says_so_when_closing(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    agent = build_agent(make_config(tmp_path), stop, DirectorySink(tmp_path / "out"),
                        probe=FakeProbes(), load=FakeLoad())  # fmt: skip
    quitting: list[bool] = []
    agent.events.quitting.add_listener(quitting.append)
    summaries: list[CycleSummary] = []
    assert run_agent(agent, summaries.append, cycles=3) == EXIT_OK
    assert summaries == [] and quitting == [True]
