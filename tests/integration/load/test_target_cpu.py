"""A real target: busy under `waddleperf load run` it reads about one core in the profile; the
same target idle reads about nothing.

The target is the Flask app served as `targets/serve.py` serves it (gunicorn, ONE gthread
worker: one process, so the GIL holds it to about one core), found by the profiler through
`--target-port` alone (the listening socket is reported under the worker; the profiler must
climb to the master and take the whole tree). The figures are checked two ways:

* against the kernel: the target tree's CPU seconds (user + system), read by this test every
  0.2 s while the run goes on, over exactly the window each profile sample covers. A profiler
  that samples the wrong process, only the master, or reads 0 fails here;
* absolutely: while Locust offers far more than one worker serves (open model, 3 000 req/s,
  at most 500 requests in flight), the worker always has work, so the kernel says it used
  near one core. When the kernel says other work kept it from that, the run is repeated; the
  criterion for repeating is exactly what is finally asserted, and the profile itself is only
  ever judged against the kernel, never against a fixed figure.

The machine is shared (2 cores, other suites running on both), and the load generator competes
with the target for CPU: measured unshielded, the target read only 0.4-0.6 cores, not because
the profiler was wrong (it matched the kernel) but because Locust, starved, did not keep the
worker busy. So the target is pinned to a CPU of its own and the load generator (the CLI, its
sampler and Locust) to the others, and this test's own polling thread too while the run lasts.
Each of the two is started in a session of its own; where permitted (root) the target runs at
nice -10 and the generator at nice -5, for the process and for its session's autogroup (with
`sched_autogroup` on, the kernel shares CPU fairly between sessions first, so a process's own
nice value alone does not lift it above other sessions). Affinity and nice are set before
`exec`, so every thread and child inherits them. Measured so, under a load average of ~9 on
2 cores: busy 0.83-0.99 cores, within 0.01 of the kernel; idle at most 0.02 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.load.conftest import CLI_TIMEOUT_S, WADDLEPERF
from tests.support.cpu import KernelWitness, procs_cpu_s
from tests.support.net import free_port, wait_until
from tests.support.require import require
from tests.support.targets import SERVE, target_env
from waddleperf.profiling.sampler import ProcessTreeSource, Sampler
from waddleperf_common.procs import stop

# CPU figures judged against the kernel need the cores to themselves: run in the serial phase.
pytestmark = pytest.mark.serial

#: Sets this process's CPUs and nice value, then becomes the given program (threads and
#: children made later inherit both). argv: cpus (comma-separated), nice, program, args...
PIN = (
    "import os, sys\n"
    "os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(',')})\n"
    "nice = int(sys.argv[2])\n"
    "try:\n"
    "    os.setpriority(os.PRIO_PROCESS, 0, nice)\n"
    "    with open('/proc/self/autogroup', 'w') as group:\n"
    "        group.write(str(nice))\n"
    "except OSError:\n"
    "    pass\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)
TARGET_NICE = -10
GENERATOR_NICE = -5
#: Open model far above one worker's capacity (~1 000 req/s for this mix here): Locust keeps
#: its 500-in-flight cap full, so the worker never waits for work.
RATE = 3000
RUN_S = 8
#: Busy bound, cores. One worker saturated on a CPU of its own reads ~0.9-1.0; the margin is
#: for the share a higher-priority or interrupt load may still take from its CPU, and for the
#: worker's few moments between requests. A profiler reading the idle master, half the tree
#: or nothing reads far below.
BUSY_MIN_CORES = 0.70
#: Pinned to one CPU the target cannot exceed one core: a reading above this counts some CPU
#: twice (e.g. a process both as a root and as a child) or is not per core.
BUSY_MAX_CORES = 1.10
#: Overload runs at most, when the machine keeps the target from being busy (the kernel says).
BUSY_ATTEMPTS = 3
#: Profile against the kernel over the same window, cores (sampling jitter, 0.2 s polling).
TRUTH_TOLERANCE_CORES = 0.10
#: Idle bound, cores: an idle gunicorn worker wakes about once a second (heartbeat), ~0.1 %.
IDLE_MAX_CORES = 0.05
#: Idle samples judged (0.5 s apart).
IDLE_TICKS = 6


def pinned(argv: Sequence[str], cpus: set[int], nice: int) -> list[str]:
    """``argv`` run on ``cpus`` at ``nice`` (or at the inherited nice value when not allowed)."""
    return [sys.executable, "-c", PIN, ",".join(map(str, sorted(cpus))), str(nice), *argv]


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


@dataclass
class Target:
    proc: subprocess.Popen[bytes]
    port: int
    cpu: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    """The Flask target, one gunicorn worker, pinned to the first CPU this test may use."""
    cpus = sorted(os.sched_getaffinity(0))
    require(len(cpus) >= 2, "needs two CPUs: one for the target, one for the load generator")
    port = free_port()
    log = tmp_path / "target.log"
    argv = [sys.executable, str(SERVE), "flask", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned(argv, {cpus[0]}, TARGET_NICE),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=target_env(tmp_path, "flask"),
            cwd=tmp_path,
            start_new_session=True,
        )
    running = Target(proc, port, cpus[0], log)
    try:
        ready = wait_until(
            lambda: proc.poll() is not None or _answers(running.url + "/api/warmup/"), 40
        )
        if not ready or proc.poll() is not None:
            raise RuntimeError(f"target did not start: {log.read_text()[-2000:]}")
        yield running
    finally:
        stop(proc, 15)


def _target_points(ndjson: Path, metric: str) -> list[tuple[float, float]]:
    """(epoch seconds, value) of the target's ``metric`` points in a k6 NDJSON profile."""
    points = []
    for line in ndjson.read_text().splitlines():
        doc = json.loads(line)
        data = doc["data"]
        if (
            doc["type"] == "Point"
            and doc["metric"] == metric
            and data["tags"]["target"] == "target"
        ):
            points.append((datetime.fromisoformat(data["time"]).timestamp(), float(data["value"])))
    return sorted(points)


def _interpolate(series: Sequence[tuple[float, float]], at: float) -> float:
    """The value of a rising (time, value) series at time ``at``, linearly interpolated."""
    for (t0, v0), (t1, v1) in pairwise(series):
        if t0 <= at <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (at - t0) / (t1 - t0)
    raise AssertionError(f"{at} outside the kernel series {series[0][0]}..{series[-1][0]}")


def _run_load(target: Target, out: Path) -> tuple[dict[str, Any], list[tuple[float, float]]]:
    """`waddleperf load run` against the target on the other CPUs; returns its record and the
    target tree's kernel CPU seconds polled every 0.2 s meanwhile (time, seconds)."""
    generator_cpus = set(os.sched_getaffinity(0)) - {target.cpu}
    argv = [
        WADDLEPERF,
        "load",
        "run",
        "--host",
        target.url,
        "--rate",
        str(RATE),
        "--duration",
        str(RUN_S),
        "--target-port",
        str(target.port),
        "--no-plots",
        "--out",
        str(out),
        "--json",
    ]
    procs = target.tree()
    kernel: list[tuple[float, float]] = []
    own_cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, generator_cpus)  # this thread's polling stays off the target's CPU
    try:
        with (out.parent / "cli.stderr").open("wb") as err:
            cli = subprocess.Popen(
                pinned(argv, generator_cpus, GENERATOR_NICE),
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + CLI_TIMEOUT_S
        try:
            while cli.poll() is None and time.monotonic() < deadline:
                before = time.time()
                seconds = procs_cpu_s(procs)
                kernel.append(((before + time.time()) / 2, seconds))
                time.sleep(0.2)
            assert cli.poll() is not None, "the load run overran its bound"
            kernel.append((time.time(), procs_cpu_s(procs)))  # covers the CLI's last sample
            stdout = cli.stdout.read() if cli.stdout else b""
        finally:
            if cli.poll() is None:
                cli.kill()
            cli.wait(timeout=30)
            if cli.stdout:
                cli.stdout.close()
    finally:
        os.sched_setaffinity(0, own_cpus)
    assert cli.returncode == 0, (out.parent / "cli.stderr").read_text()[-2000:]
    return json.loads(stdout), kernel


def test_busy_target_reads_one_core_and_idle_reads_none(target: Target, tmp_path: Path) -> None:
    tree = target.tree()
    assert len(tree) == 2, f"expected gunicorn's master and one worker: {tree}"
    for proc in tree:
        for thread in proc.threads():
            assert os.sched_getaffinity(thread.id) == {target.cpu}

    # Idle: the profiler as `--target-port` builds it, on the target nobody talks to, once the
    # kernel says the warm-up request's tail is over; each sample is witnessed by the kernel.
    assert wait_until(lambda: _quiet(tree), 60), "the idle target never went quiet (kernel)"
    witness = KernelWitness(ProcessTreeSource("target", port=target.port), target.proc.pid)
    sampler = Sampler([witness], interval_s=0.5).start()
    try:
        ticked = wait_until(lambda: len(witness.witnessed) >= IDLE_TICKS, 60)
    finally:
        idle = sampler.stop()
    assert ticked, f"the sampler took {len(witness.witnessed)} of {IDLE_TICKS} ticks in 60 s"
    assert all(s["processes_count"] == 2 for s in idle), idle
    idle_cores = [float(w.sample["cpu_core_ratio"]) for w in witness.witnessed]
    kernel_cores = [w.kernel_pct * witness.cores / 100 for w in witness.witnessed]
    assert max(idle_cores) <= IDLE_MAX_CORES, (idle_cores, kernel_cores)
    for read, kernel in zip(idle_cores, kernel_cores, strict=True):
        assert abs(read - kernel) <= IDLE_MAX_CORES, (idle_cores, kernel_cores)

    # Busy: the CLI profiles the target by its port while Locust overloads it. The profile
    # must match the kernel in every run; "near one core" is the machine's doing too: when
    # the kernel itself says another process kept the target from being busy, run again, and
    # what is finally asserted is that same criterion.
    details = []
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        record, profiled, truth, detail = _busy_run(target, tmp_path / f"run{attempt}")
        details.append(detail)
        print(f"busy run {attempt}: {detail}")
        if truth >= BUSY_MIN_CORES:
            break
    assert truth >= BUSY_MIN_CORES, f"the kernel never let the target be busy: {details}"
    print(
        f"idle max {max(idle_cores):.3f} cores; busy {profiled:.3f} cores "
        f"(kernel {truth:.3f}), record avg {record['metrics']['target_cpu_core_avg_ratio']}"
    )


def _quiet(procs: Sequence[psutil.Process]) -> bool:
    """True when the kernel says ``procs`` used under half of IDLE_MAX_CORES for 0.5 s."""
    before = procs_cpu_s(procs)
    time.sleep(0.5)
    return procs_cpu_s(procs) - before < 0.5 * IDLE_MAX_CORES / 2


def _busy_run(target: Target, out: Path) -> tuple[dict[str, Any], float, float, str]:
    """One overload run: its record, the profiled and the kernel's cores over the load."""
    record, kernel = _run_load(target, out)
    summary = record["raw"]
    lo, hi = float(summary["started_at"]), float(summary["finished_at"])
    assert record["metrics"]["requests_count"] > 0
    profile = out / "profile.ndjson"
    cores = _target_points(profile, "cpu_core_ratio")
    machine = dict(_target_points(profile, "cpu_pct"))
    counts = dict(_target_points(profile, "processes_count"))
    # A sample at t_i covers (t_i-1, t_i]: keep those whose whole interval lies in the load.
    loaded = [(t0, t1, value) for (t0, _), (t1, value) in pairwise(cores) if lo <= t0 and t1 <= hi]
    assert len(loaded) >= RUN_S // 2, (lo, hi, cores)  # ~7 one-second samples in 8 s
    assert all(counts[t1] == 2 for _, t1, _ in loaded), counts
    start, end = loaded[0][0], loaded[-1][1]
    profiled = sum((t1 - t0) * value for t0, t1, value in loaded) / (end - start)
    truth = (_interpolate(kernel, end) - _interpolate(kernel, start)) / (end - start)
    detail = f"profile {[v for *_, v in loaded]}, kernel {truth:.3f} cores"
    assert abs(profiled - truth) <= TRUTH_TOLERANCE_CORES, detail
    assert max(v for *_, v in loaded) <= BUSY_MAX_CORES, detail
    # cpu_pct is the same figure as a share of the whole machine
    ncpu = psutil.cpu_count() or 1
    for _, t1, value in loaded:
        assert machine[t1] == pytest.approx(100 * value / ncpu, abs=0.1)
    # The record's summary agrees with the kernel over the samples it keeps: those with at
    # least half of their interval (1 s before a first sample) inside the load (docs/load.md).
    intervals = [(t - 1.0, t, v) for t, v in cores[:1]]
    intervals += [(t0, t1, v) for (t0, _), (t1, v) in pairwise(cores)]
    kept = [(t0, t1, v) for t0, t1, v in intervals if min(t1, hi) - max(t0, lo) >= (t1 - t0) / 2]
    kernel_kept = [
        (_interpolate(kernel, t1) - _interpolate(kernel, t0)) / (t1 - t0) for t0, t1, _ in kept
    ]
    metrics = record["metrics"]
    record_detail = f"record {metrics}; kept {kept}; kernel {kernel_kept}"
    kernel_avg = sum(kernel_kept) / len(kernel_kept)
    assert abs(metrics["target_cpu_core_avg_ratio"] - kernel_avg) <= TRUTH_TOLERANCE_CORES, (
        record_detail
    )
    assert max(v for *_, v in loaded) - 0.001 <= metrics["target_cpu_core_max_ratio"], record_detail
    assert metrics["target_cpu_core_max_ratio"] <= BUSY_MAX_CORES, record_detail
    return record, profiled, truth, detail
