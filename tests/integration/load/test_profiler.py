"""The psutil sampler on real processes: busy near 100% of the machine, idle near 0."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from waddleperf.localstack import LocalServer
from waddleperf.profiling.sampler import ProcessTreeSource, RemoteStatsSource, Sampler
from waddleperf.profiling.summary import by_source, series

CORES = psutil.cpu_count() or 1
# A parent and CORES-1 children spinning for a bounded time: the whole tree fills the machine.
BUSY = (
    "import multiprocessing as mp, sys, time\n"
    "def spin(s):\n"
    "    end = time.monotonic() + s\n"
    "    while time.monotonic() < end: pass\n"
    "if __name__ == '__main__':\n"
    "    n, s = int(sys.argv[1]), float(sys.argv[2])\n"
    "    kids = [mp.Process(target=spin, args=(s,)) for _ in range(n - 1)]\n"
    "    [k.start() for k in kids]; spin(s); [k.join() for k in kids]\n"
)
IDLE = "import time; time.sleep(float(__import__('sys').argv[1]))"


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(*argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, *argv])
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        for child in (
            psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        ):
            child.kill()
        proc.kill()
        proc.wait()


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user+system) the tree has used so far: the kernel's ground truth."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def test_busy_tree_near_100_and_idle_near_0(spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    """A tree spinning on every core reads near 100% of the machine, a sleeper near 0.

    The machine may be shared with other work, so "near 100" is checked against what the
    kernel actually gave the tree over the same window (on a free machine both are ~100).
    """
    busy = spawn("-c", BUSY, str(CORES), "6")
    idle = spawn("-c", IDLE, "6")
    time.sleep(0.8)  # let the children start
    sampler = Sampler(
        [ProcessTreeSource("busy", [busy.pid]), ProcessTreeSource("idle", [idle.pid])],
        interval_s=0.5,
    )
    cpu0, t0 = _tree_cpu_s(busy.pid), time.monotonic()
    sampler.start()
    time.sleep(3.2)
    groups = by_source(sampler.stop())
    truth_pct = 100 * (_tree_cpu_s(busy.pid) - cpu0) / (time.monotonic() - t0) / CORES
    busy_cpu = series(groups["busy"], "cpu_pct")
    idle_cpu = series(groups["idle"], "cpu_pct")
    assert len(busy_cpu) >= 5
    avg = sum(busy_cpu) / len(busy_cpu)
    assert abs(avg - truth_pct) < 12, (busy_cpu, truth_pct)
    if psutil.getloadavg()[0] <= CORES + 0.5:  # machine not oversubscribed: the absolute claim
        assert avg > 75, busy_cpu
    assert max(idle_cpu) < 5, idle_cpu
    assert groups["busy"][-1]["processes_count"] == CORES
    assert groups["busy"][-1]["cpu_core_ratio"] == pytest.approx(avg * CORES / 100, abs=0.5)


def test_remote_source_reads_the_servers_stats(
    server_factory: Callable[..., LocalServer],
    spawn: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    idle = spawn("-c", IDLE, "20")
    pid_file = tmp_path / "idle.pid"
    pid_file.write_text(str(idle.pid))
    srv = server_factory(
        services=("http",),
        config_yaml=json.dumps(
            {"stats": {"targets": [{"name": "idle", "pid_file": str(pid_file)}]}}
        ),
    )
    source = RemoteStatsSource("target", srv.base_url + "/stats", "idle")
    source.sample()
    time.sleep(0.5)
    sample = source.sample()
    assert sample is not None, "the server's /stats did not list the target"
    assert sample["cpu_pct"] is not None and sample["cpu_pct"] < 5
    assert sample["rss_mb"] is not None and sample["rss_mb"] > 1
    assert RemoteStatsSource("x", srv.base_url + "/stats", "absent").sample() is None
