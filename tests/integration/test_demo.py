"""``waddleperf demo`` — what ``make run`` does — end to end, as a person runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import psutil
import pytest

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_demo_runs_every_service_and_escalates_through_tier_3(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_")}
    env["COLUMNS"] = "200"  # one table row per line, so the rows can be read back
    # Every process the demo starts inherits this mark, so leftovers can be found for sure.
    mark = uuid.uuid4().hex
    env["DEMO_TEST_MARK"] = mark
    run = subprocess.run(
        [WADDLEPERF, "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=360
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr[-3000:]
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 4}
    for service in ("HTTP echo", "LibreSpeed", "TCP echo", "UDP echo", "ICMP", "iperf3"):
        assert " ok " in rows[service], rows.get(service)
    assert "1 → 2" in out and "2 → 3" in out
    assert "load flask" in out
    bundles = list((tmp_path / "waddleperf-demo" / "results").rglob("*.tar.gz"))
    assert len(bundles) == 1
    with tarfile.open(bundles[0]) as tar:
        assert {"manifest.json", "results.ndjson", "profiling.ndjson"} <= set(tar.getnames())
    # Nothing the demo started outlives it (server, iperf3, gunicorn, Locust).
    assert [p.cmdline() for p in _marked(mark)] == []


def _marked(mark: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("DEMO_TEST_MARK") == mark:
                found.append(proc)
        except psutil.Error:
            continue
    return found
