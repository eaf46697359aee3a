"""The suite's timing report across phases (tests/support/durations.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import durations


def write(path: Path, *tests: tuple[str, str, float]) -> None:
    with path.open("a") as out:
        for nodeid, outcome, seconds in tests:
            out.write(json.dumps({"nodeid": nodeid, "outcome": outcome, "seconds": seconds}) + "\n")


def test_report_lists_the_slowest_of_all_phases_and_one_count_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    other = tmp_path / "e.jsonl"
    write(path, ("a::one", "passed", 1.0), ("a::two", "skipped", 0.1))
    write(other, ("lab::three", "passed", 9.5), ("lab::four", "failed", 3.0), ("x", "error", 0.2))
    lines, counts = durations.report([path, other], slowest=2)
    assert lines[0] == "2 slowest tests of 5 (setup + call + teardown):"
    assert lines[1].split() == ["9.50s", "lab::three"]
    assert lines[2].split() == ["3.00s", "lab::four"]
    assert lines[-1] == "suite: 2 passed, 2 failed, 1 skipped"
    assert counts["error"] == 1
    assert durations.main([str(path), str(other)]) == 1


def test_all_passed_exits_0_and_nothing_run_or_no_file_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.jsonl"
    write(path, ("a", "passed", 0.5))
    assert durations.main(["--slowest", "15", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "suite: 1 passed, 0 failed, 0 skipped"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert durations.main([str(empty)]) == 1
    assert durations.main([str(tmp_path / "missing")]) == 2


def test_recorder_sums_phases_and_keeps_the_first_bad_outcome(tmp_path: Path) -> None:
    rec = durations.Recorder(tmp_path / "d.jsonl")

    def report(nodeid: str, when: Any, outcome: Any, duration: float) -> pytest.TestReport:
        return pytest.TestReport(nodeid, ("f", 1, "t"), {}, outcome, None, when, [], duration)

    for when, outcome in (("setup", "passed"), ("call", "passed"), ("teardown", "failed")):
        rec.pytest_runtest_logreport(report("t::ok_then_teardown_error", when, outcome, 1.0))
    for when, outcome in (("setup", "skipped"), ("teardown", "passed")):
        rec.pytest_runtest_logreport(report("t::skipped", when, outcome, 0.5))
    for when, outcome in (("setup", "passed"), ("call", "failed"), ("teardown", "passed")):
        rec.pytest_runtest_logreport(report("t::failed", when, outcome, 0.25))
    rec.pytest_sessionfinish()
    got = {e["nodeid"]: e for e in map(json.loads, (tmp_path / "d.jsonl").read_text().splitlines())}
    assert got["t::ok_then_teardown_error"] == {
        "nodeid": "t::ok_then_teardown_error", "seconds": 3.0, "outcome": "error"
    }  # fmt: skip
    assert (got["t::skipped"]["outcome"], got["t::skipped"]["seconds"]) == ("skipped", 1.0)
    assert (got["t::failed"]["outcome"], got["t::failed"]["seconds"]) == ("failed", 0.75)
