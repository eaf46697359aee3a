"""A small synthetic fleet on disk (the project's bundle writer) and a way to run the command."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.support.fleet import FleetSpec, write_fleet
from waddleperf.cli import app
from waddleperf.results.reader import read_bundle

SPEC = FleetSpec(agents=4, servers=2, tier2_every=5, tier3_every=10)
COUNT = 120  # 30 cycles of 4 agents: tier 2 every 5th cycle, tier 3 (load) every 10th


@dataclass
class Outcome:
    """What one ``waddleperf report`` run said."""

    code: int
    stdout: str
    stderr: str

    def summary(self, out: Path) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((out / "summary.json").read_text())
        return doc


def report(*args: str | Path) -> Outcome:
    """Run the real command in this process (typer's runner), stdout and stderr apart."""
    result = CliRunner().invoke(app, ["report", *map(str, args)], catch_exceptions=False)
    return Outcome(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 bundles of 4 agents × 2 servers in a results directory (read-only for tests)."""
    root = tmp_path_factory.mktemp("fleet")
    write_fleet(root, SPEC, COUNT)
    return root


def truth(root: Path) -> dict[str, Any]:
    """Ground truth read with the project's own bundle reader, in plain Python."""
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    bundles = events = loads = 0
    for path in sorted(root.rglob("*.tar.gz")):
        content = read_bundle(path)
        bundles += 1
        for r in content.results:
            if r.kind.startswith("probe."):
                groups[(r.agent, str(r.info.get("server")), r.kind)].append(r)
            events += r.kind == "autoperf.event"
            loads += r.kind.startswith("load.")
    return {"groups": groups, "bundles": bundles, "events": events, "loads": loads}
