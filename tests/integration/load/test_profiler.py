"""The psutil sampler on real processes: a busy tree reads what the kernel gave it, idle near 0."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.cpu import KernelWitness, Witnessed, tree
from tests.support.net import wait_until
from tests.support.procs import kill_tree
from waddleperf.localstack import LocalServer
from waddleperf.profiling.sampler import ProcessTreeSource, RemoteStatsSource, Sampler

# CPU figures judged against the kernel need the cores to themselves: run in the serial phase.
pytestmark = pytest.mark.serial

CORES = psutil.cpu_count() or 1
# A parent and CORES-1 children spinning until killed: the whole tree fills the machine if the
# kernel lets it.
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
#: Lifetime of the spawned processes, s: far beyond the test (teardown kills them earlier).
LIFETIME_S = "120"
#: Sampler ticks judged per window (0.5 s apart).
TICKS = 6
#: Generous bound for events that take well under a second on a free machine, s.
DEADLINE_S = 60.0
#: A sample may differ from the kernel's figure for its own interval by this many percentage
#: points or this fraction of it, whichever is larger: the kernel counts in 10 ms ticks per
#: process, and the sampler reads each process a moment before the witness does. A sampler
#: that reads 0, or twice the truth, is off by the whole truth and fails on a busy interval.
TOLERANCE_PTS = 8.0
TOLERANCE_FRACTION = 0.2
#: The comparison tells a right reading from 0 or 2x only when the tree was busy: then a sample
#: the kernel puts above twice TOLERANCE_PTS exists, and reading 0 or double it is off by more
#: than the tolerance. A window in which other work kept the tree below this (percent of the
#: machine, on average, per the kernel) is re-taken.
MIN_BUSY_PCT = 2 * TOLERANCE_PTS + 4
ATTEMPTS = 3


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(*argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, *argv])
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        kill_tree(proc)


def _off(witnessed: list[Witnessed]) -> list[str]:
    """The samples that disagree with the kernel's figure for their own interval."""
    return [
        f"read {w.sample['cpu_pct']} vs kernel {w.kernel_pct:.1f}"
        for w in witnessed
        if abs(float(w.sample["cpu_pct"]) - w.kernel_pct)
        > max(TOLERANCE_PTS, TOLERANCE_FRACTION * w.kernel_pct)
    ]


def _window(busy_pid: int, idle_pid: int) -> tuple[KernelWitness, KernelWitness]:
    """Sample both trees for TICKS ticks, each sample witnessed by the kernel's accounting."""
    busy = KernelWitness(ProcessTreeSource("busy", [busy_pid]), busy_pid)
    idle = KernelWitness(ProcessTreeSource("idle", [idle_pid]), idle_pid)
    sampler = Sampler([busy, idle], interval_s=0.5).start()
    witnessed = (busy.witnessed, idle.witnessed)
    try:
        ticked = wait_until(lambda: min(map(len, witnessed)) >= TICKS, DEADLINE_S)
    finally:
        sampler.stop()
    assert ticked, f"the sampler took {len(busy.witnessed)} of {TICKS} ticks in {DEADLINE_S} s"
    return busy, idle


def test_busy_tree_reads_what_the_kernel_gave_it_and_idle_near_0(
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    """A tree spinning on every core reads, sample by sample, what the kernel says it used over
    that sample's interval (near 100% on a free machine), and a sleeper reads near 0.

    The machine may be shared, so no sample is held against 100: each is held against the
    kernel's CPU seconds of the same tree over the same interval. A window in which other work
    kept the tree from being busy enough to tell a right reading from a wrong one is re-taken.
    """
    busy = spawn("-c", BUSY, str(CORES), LIFETIME_S)
    idle = spawn("-c", IDLE, LIFETIME_S)
    started = wait_until(lambda: len(tree(busy.pid)) == CORES, DEADLINE_S)
    assert started, f"the busy tree has {len(tree(busy.pid))} of {CORES} processes"
    for attempt in range(1, ATTEMPTS + 1):
        witness, sleeper = _window(busy.pid, idle.pid)
        kernel = [w.kernel_pct for w in witness.witnessed]
        kernel_avg = sum(kernel) / len(kernel)
        print(f"window {attempt}: kernel {[round(k, 1) for k in kernel]}")
        if kernel_avg >= MIN_BUSY_PCT:
            break
    assert kernel_avg >= MIN_BUSY_PCT, (
        f"other work kept the busy tree at {kernel_avg:.1f}% of the machine (kernel) in "
        f"{ATTEMPTS} windows: too idle to judge the sampler"
    )
    busy_cpu = [float(w.sample["cpu_pct"]) for w in witness.witnessed]
    assert not _off(witness.witnessed), (_off(witness.witnessed), busy_cpu, kernel)
    assert not _off(sleeper.witnessed), _off(sleeper.witnessed)
    idle_cpu = [float(w.sample["cpu_pct"]) for w in sleeper.witnessed]
    assert max(idle_cpu) < 5, idle_cpu  # a sleeper uses no CPU however busy the machine is
    for w in witness.witnessed:
        assert w.sample["processes_count"] == CORES, w.sample
        assert w.sample["cpu_core_ratio"] == pytest.approx(
            float(w.sample["cpu_pct"]) * CORES / 100, abs=0.01
        )


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


LISTEN = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(120)\n"
)


def test_a_ports_listeners_are_looked_up_again_only_when_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading the system's connection table is slow on a loaded machine: a source by port
    keeps the listeners it found while they live, and finds the next one when one is gone."""
    from tests.support.net import free_port
    from waddleperf_common import proctree

    lookups: list[int] = []
    real = proctree.listening_roots

    def counted(port: int) -> list[int]:
        lookups.append(port)
        return real(port)

    monkeypatch.setattr(proctree, "listening_roots", counted)
    port = free_port()
    first = subprocess.Popen([sys.executable, "-c", LISTEN, str(port)])
    second = None
    try:
        assert wait_until(lambda: real(port) == [first.pid], 10)
        source = ProcessTreeSource("by-port", port=port)
        assert [source.roots() for _ in range(5)] == [[first.pid]] * 5
        assert len(lookups) == 1
        first.kill()
        first.wait(10)
        second = subprocess.Popen([sys.executable, "-c", LISTEN, str(port)])
        assert wait_until(lambda: real(port) == [second.pid], 10)
        assert source.roots() == [second.pid] and len(lookups) == 2
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
