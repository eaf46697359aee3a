"""The suite's timing record across its phases (``make test`` runs pytest more than once).

A pytest plugin (registered by ``tests/conftest.py``) appends one JSON line per test — node id,
outcome, seconds of setup + call + teardown — to the file named by ``WPL_DURATIONS``, from the
controlling process only (xdist workers forward their reports to it). ``python -m
tests.support.durations [--slowest N] FILE...`` then prints the N slowest tests of all parts
and the suite's closing count line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

ENV = "WPL_DURATIONS"


class Recorder:
    """Collects each test's phases; writes them when the session ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tests: dict[str, dict[str, Any]] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Add this phase's time; the first phase that did not pass decides the outcome."""
        entry = self.tests.setdefault(report.nodeid, {"seconds": 0.0, "outcome": "passed"})
        entry["seconds"] += report.duration
        if report.when == "call" or not report.passed:
            if report.failed and report.when != "call":
                entry["outcome"] = "error" if entry["outcome"] == "passed" else entry["outcome"]
            elif entry["outcome"] == "passed":
                entry["outcome"] = report.outcome

    @pytest.hookimpl
    def pytest_sessionfinish(self) -> None:
        """Append this phase's tests to the file."""
        with self.path.open("a", encoding="utf-8") as out:
            for nodeid, entry in self.tests.items():
                out.write(json.dumps({"nodeid": nodeid, **entry}) + "\n")


def register(config: pytest.Config) -> None:
    """Install the recorder when ``WPL_DURATIONS`` names a file (not in xdist workers)."""
    # Taken out of the environment: a test that runs pytest itself (the lab's teardown and
    # skip checks do) must not add its inner tests to the suite's record.
    target = os.environ.pop(ENV, None)
    if target and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Recorder(Path(target)), "wpl-durations")


def report(paths: Sequence[Path], slowest: int = 15) -> tuple[list[str], Counter[str]]:
    """The lines to print (slowest tests, then the count line) and the outcome counts."""
    tests = [
        json.loads(line)
        for path in paths
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]
    counts = Counter(t["outcome"] for t in tests)
    lines = [f"{min(slowest, len(tests))} slowest tests of {len(tests)} (setup + call + teardown):"]
    for t in sorted(tests, key=lambda t: -t["seconds"])[:slowest]:
        lines.append(f"{t['seconds']:8.2f}s  {t['nodeid']}")
    total = sum(t["seconds"] for t in tests)
    lines.append(f"test time summed over all phases: {total:.0f} s")
    summary = f"{counts['passed']} passed, {counts['failed'] + counts['error']} failed"
    lines.append(f"suite: {summary}, {counts['skipped']} skipped")
    return lines, counts


def main(argv: list[str]) -> int:
    """Print the report of the given record files; exit 1 when a test failed or none ran."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.durations")
    parser.add_argument("files", nargs="+", type=Path, help="records (WPL_DURATIONS files)")
    parser.add_argument("--slowest", type=int, default=15, help="how many tests to list")
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"no such record: {', '.join(missing)}", file=sys.stderr)
        return 2
    lines, counts = report(args.files, args.slowest)
    print("\n".join(lines))
    return 1 if counts["failed"] or counts["error"] or not counts["passed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
