"""/stats and its sampler against real busy and idle processes."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import requests

from tests.support.cpu import CpuBracket
from tests.support.httphelp import http_server
from tests.support.net import free_port, wait_until
from tests.support.procs import PREFORK, kill_tree
from waddleperf_server.config import StatsTarget
from waddleperf_server.host.stats import ProcessSampler

# Niced so the spinner does not starve the server under test of CPU while it starts.
BUSY = "import os\nos.nice(5)\nwhile True: pass"
# An idle parent whose child spins: the target's tree must include the child's CPU.
TREE = (
    "import subprocess, sys, time\n"
    f"p = subprocess.Popen([sys.executable, '-c', {BUSY!r}])\n"
    "time.sleep(120)\n"
)


def _idle_listener(port: int) -> str:
    return (
        "import socket, time\n"
        "s = socket.socket()\n"
        f"s.bind(('127.0.0.1', {port}))\n"
        "s.listen()\n"
        "time.sleep(120)\n"
    )


T = TypeVar("T")


@dataclass
class Targets:
    tree_pid_file: Path
    tree_pid: int
    idle_port: int
    named: str


def _ctx_switches(pids: list[int]) -> tuple[int, int]:
    """psutil's voluntary and involuntary context switches, summed over ``pids``."""
    counts = [psutil.Process(pid).num_ctx_switches() for pid in pids]
    return sum(c.voluntary for c in counts), sum(c.involuntary for c in counts)


def kernel_window(
    bracket: CpuBracket, take: Callable[[], T], attempts: int = 3
) -> tuple[T, tuple[float, float]]:
    """``take()`` (which reads through ``bracket``) about 1 s after the last reading, and the
    range the kernel allows for the tree's CPU share over the sampler's window. A window in
    which the kernel gave the busy child almost nothing (a busy machine) cannot tell a right
    reading from 0, so it is taken again, ``attempts`` at most; the last window's floor must be
    above 5 % (every attempt listed otherwise): then a reading of 0 fails."""
    windows: list[tuple[float, float]] = []
    for _ in range(attempts):
        time.sleep(1.0)
        result = take()
        assert bracket.window is not None, "take() did not read through the bracket"
        windows.append(bracket.window)
        if windows[-1][0] > 5:
            break
    assert windows[-1][0] > 5, f"the busy child hardly got a CPU in any window: {windows} %"
    return result, windows[-1]


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    tmp = tmp_path_factory.mktemp("targets")
    port = free_port()
    # A uniquely named interpreter so a process_name lookup finds only this process (unique
    # per fixture: two test workers may each hold one).
    named = tmp / f"wpbt{secrets.token_hex(4)}"
    named.symlink_to(sys.executable)
    procs = [
        subprocess.Popen([sys.executable, "-c", TREE]),
        subprocess.Popen([sys.executable, "-c", _idle_listener(port)]),
        subprocess.Popen([str(named), "-c", "import time; time.sleep(120)"]),
    ]
    try:
        pid_file = tmp / "tree.pid"
        pid_file.write_text(f"{procs[0].pid}\n")

        def ready() -> bool:
            listening = any(
                c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
                for c in psutil.Process(procs[1].pid).net_connections("inet")
            )
            return listening and len(psutil.Process(procs[0].pid).children()) == 1

        assert wait_until(ready, 10)
        yield Targets(pid_file, procs[0].pid, port, named.name)
    finally:
        for p in procs:
            kill_tree(p)


def _target(**fields: Any) -> StatsTarget:
    return StatsTarget.model_validate(fields)


def _by_name(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    entries = snapshot["targets"]
    assert isinstance(entries, list)
    entry: dict[str, Any] = next(e for e in entries if e["name"] == name)
    return entry


# Its CPU share is judged against the kernel's and needs a core to itself: serial phase.
@pytest.mark.serial
def test_sampler_busy_vs_idle(targets: Targets, tmp_path: Path) -> None:
    wanted = [
        _target(name="tree", pid_file=targets.tree_pid_file),
        _target(name="idle", port=targets.idle_port),
        _target(name="named", process_name=targets.named),
        _target(name="gone", pid_file=tmp_path / "missing.pid"),
        _target(name="tree-again", pid_file=targets.tree_pid_file),
    ]
    sampler = ProcessSampler()
    bracket = CpuBracket(targets.tree_pid)
    first = bracket.read(lambda: sampler.snapshot(wanted))
    tree = _by_name(first, "tree")
    assert tree["found"] is True and tree["process_count"] == 2
    assert tree["cpu_pct"] is None and tree["cpu_raw_pct"] is None  # primed, no interval yet
    gone = _by_name(first, "gone")
    assert gone["found"] is False and "missing.pid" in str(gone["error"])
    watched = {name: _by_name(first, name)["pids"] for name in ("tree", "idle", "named")}

    def take() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        before = {name: _ctx_switches(pids) for name, pids in watched.items()}
        snapshot = bracket.read(lambda: sampler.snapshot(wanted))
        return before, snapshot, {name: _ctx_switches(pids) for name, pids in watched.items()}

    (ctx_before, second, ctx_after), (low, high) = kernel_window(bracket, take)
    tree = _by_name(second, "tree")
    idle = _by_name(second, "idle")
    named = _by_name(second, "named")
    assert tree["pids"][0] == targets.tree_pid
    assert low <= tree["cpu_raw_pct"] <= high, (tree, low, high)
    assert tree["cpu_pct"] == pytest.approx(tree["cpu_raw_pct"] / psutil.cpu_count(), abs=0.02)
    assert named["process_count"] == 1 and named["cpu_raw_pct"] < 5, named
    # the same processes under two names are read once, not twice (a second read right
    # after the first would show ~0 %)
    assert _by_name(second, "tree-again")["cpu_raw_pct"] == tree["cpu_raw_pct"]
    assert idle["cpu_raw_pct"] < 5, idle
    for name, entry in (("tree", tree), ("idle", idle), ("named", named)):
        assert entry["rss_mb"] > 1 and entry["uss_mb"] is not None and entry["uss_mb"] > 0
        assert entry["threads"] >= 1 and entry["num_fds"] >= 3
        # the kernel's own counts, read just before and just after the snapshot, bracket it
        # (every one of these processes has slept, so voluntary switches cannot be 0)
        ctx, low, high = entry["ctx_switches"], ctx_before[name], ctx_after[name]
        assert 1 <= low[0] <= ctx["voluntary"] <= high[0], (name, ctx, low, high)
        assert low[1] <= ctx["involuntary"] <= high[1], (name, ctx, low, high)
        assert entry["io"] is not None
    assert len(second["system"]["per_cpu_pct"]) == psutil.cpu_count()
    assert second["timestamp"].endswith("Z")


def test_sampler_keeps_one_process_object_per_pid(targets: Targets) -> None:
    sampler = ProcessSampler()
    spec = [_target(name="idle", port=targets.idle_port)]
    sampler.snapshot(spec)
    cached = dict(sampler.reader.cached)
    sampler.snapshot(spec)
    assert all(sampler.reader.cached[pid] is obj for pid, obj in cached.items())
    assert os.getpid() in sampler.reader.cached  # the sampler's own process (the "server" tree)


# Its CPU share is judged against the kernel's and needs a core to itself: serial phase.
@pytest.mark.serial
def test_stats_endpoint(targets: Targets, tmp_path_factory: pytest.TempPathFactory) -> None:
    cfg = (
        "stats:\n  targets:\n"
        f"    - {{name: tree, pid_file: {targets.tree_pid_file}}}\n"
        f"    - {{name: idle, port: {targets.idle_port}}}\n"
    )
    with http_server(tmp_path_factory.mktemp("stats"), cfg) as srv:
        url = srv.base_url + "/stats"
        bracket = CpuBracket(targets.tree_pid)
        first = bracket.read(lambda: requests.get(url, timeout=10)).json()
        assert first["targets"][0]["cpu_pct"] is None
        r, (low, high) = kernel_window(
            bracket, lambda: bracket.read(lambda: requests.get(url, timeout=10))
        )
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
        doc = r.json()
        tree, idle = doc["targets"]
        assert tree["name"] == "tree" and tree["process_count"] == 2
        assert low <= tree["cpu_raw_pct"] <= high, (tree, low, high)
        assert idle["cpu_raw_pct"] < 5
        assert doc["server"]["pids"][0] == srv.proc.pid
        assert doc["server"]["cpu_pct"] is not None and doc["server"]["rss_mb"] > 10
        system = doc["system"]
        assert set(system) >= {"cpu_pct", "per_cpu_pct", "memory", "net_io", "load_avg"}
        assert system["memory"]["total_mb"] > 100


def test_port_target_covers_a_prefork_servers_whole_tree() -> None:
    # Master and two workers share one listening socket, as gunicorn's do: the target must be
    # the master's tree, whichever holder the system's connection table happens to name.
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", PREFORK, str(port)])
    try:
        assert wait_until(lambda: len(psutil.Process(proc.pid).children()) == 2, 10)
        assert wait_until(
            lambda: any(
                c.laddr and c.laddr.port == port for c in psutil.Process(proc.pid).net_connections()
            ),
            10,
        )
        sampler = ProcessSampler()
        assert sampler.resolve(StatsTarget(name="prefork", port=port)) == [proc.pid]
        tree = sampler.tree([proc.pid], {})
        assert tree["process_count"] == 3
    finally:
        kill_tree(proc)
