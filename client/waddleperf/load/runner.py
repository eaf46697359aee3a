"""Run Locust in processes of its own: one local process, a master with N local workers, or
one side of a run across hosts (``--master`` / ``--worker``).

Locust is never imported here (it monkey-patches the whole process with gevent); this module
builds command lines (pure), starts the processes, shows progress read from the master's
progress file, and always tears the processes down, even on timeout or Ctrl-C.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from waddleperf.load.plan import LoadOptions
from waddleperf.load.profiles import Profile
from waddleperf_common.procs import stop_all

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
Role = Literal["local", "master", "worker"]
#: Seconds a run may overrun its duration (spawn, stop, summary) before it is killed.
GRACE_S = 45.0
#: Seconds the Locust processes get after SIGTERM before SIGKILL, when a start goes wrong.
STOP_GRACE_S = 10.0
#: The same at the end of a run: workers exit when the master quits, give them a moment.
END_GRACE_S = 15.0
#: Seconds a master waits for its workers to connect.
WORKER_WAIT_S = 30
#: A worker does not know how long its master's run lasts: it stops when the master says so,
#: or after this many seconds at the latest (override with ``max_runtime_s``).
WORKER_MAX_RUNTIME_S = 2 * 3600.0


@dataclass(frozen=True)
class LoadPlan:
    """One run of ``options`` against ``host``, and where its Locust processes run (``role``)."""

    host: str
    options: LoadOptions = field(default_factory=LoadOptions)
    role: Role = "local"
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    master_bind: str = "127.0.0.1"
    expect_workers: int = 0
    max_runtime_s: float | None = None

    @property
    def profile(self) -> Profile:
        """The run's size: peak users, spawn rate, duration (the options' sized profile)."""
        return self.options.profile_spec

    @property
    def time_limit_s(self) -> float:
        """Seconds after which this host's Locust processes are stopped whatever happens."""
        if self.max_runtime_s is not None:
            return self.max_runtime_s
        if self.role == "worker":
            return WORKER_MAX_RUNTIME_S
        return self.profile.duration_s + GRACE_S + WORKER_WAIT_S

    @property
    def worker_count(self) -> int:
        """Locust processes that generate load (the master only coordinates)."""
        if self.role == "master":
            return max(1, self.expect_workers)
        return self.options.workers if self.options.workers > 0 else 1

    @property
    def users(self) -> int:
        """Peak users: in the open model one arrival user per generating process."""
        return self.worker_count if self.options.rate is not None else self.profile.users


@dataclass
class RunFiles:
    """Where one run's Locust processes write (all inside one directory)."""

    directory: Path

    @property
    def summary(self) -> Path:
        return self.directory / "locust-summary.json"

    @property
    def progress(self) -> Path:
        return self.directory / "locust-progress.json"

    def log(self, name: str) -> Path:
        return self.directory / f"locust-{name}.log"


def _base() -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]


def _wp_args(plan: LoadPlan, files: RunFiles) -> list[str]:
    opts = plan.options
    args = [
        "--wp-shape",
        opts.shape,
        "--wp-users",
        str(plan.users),
        "--wp-spawn-rate",
        str(plan.profile.spawn_rate),
        "--wp-duration",
        str(plan.profile.duration_s),
        "--wp-out",
        str(files.summary),
        "--wp-progress",
        str(files.progress),
    ]
    if opts.rate is not None:
        args += ["--wp-rate", str(opts.rate)]
    if opts.user == "endpoint":
        args += ["--wp-path", opts.path]
    if opts.wait_s is not None:
        args += ["--wp-wait", f"{opts.wait_s[0]},{opts.wait_s[1]}"]
    return args


def worker_command(master_host: str, master_port: int) -> list[str]:
    """A worker process: it gets users, host and options from the master."""
    return [*_base(), "--worker", "--master-host", master_host, "--master-port", str(master_port)]


def build_commands(plan: LoadPlan, files: RunFiles) -> list[tuple[str, list[str]]]:
    """(name, argv) of every process this host starts for ``plan``; the coordinator first."""
    head = ["--headless", "--only-summary", "--host", plan.host, *_wp_args(plan, files)]
    if plan.role == "worker":
        return [("worker-0", worker_command(plan.master_host, plan.master_port))]
    workers = plan.options.workers
    if plan.role == "local" and workers == 0:
        return [("local", [*_base(), *head, plan.options.user_class])]
    expect = plan.expect_workers if plan.role == "master" else workers
    master = [
        *_base(),
        "--master",
        "--master-bind-host",
        plan.master_bind,
        "--master-bind-port",
        str(plan.master_port),
        "--expect-workers",
        str(expect),
        "--expect-workers-max-wait",
        str(WORKER_WAIT_S),
        *head,
        plan.options.user_class,
    ]
    commands = [("master", master)]
    if plan.role == "local":
        commands += [
            (f"worker-{i}", worker_command(plan.master_bind, plan.master_port))
            for i in range(workers)
        ]
    return commands


@dataclass
class LoadOutcome:
    """What the Locust processes left: their summary (None if none was written) and exit codes."""

    summary: dict[str, Any] | None
    returncodes: dict[str, int | None]
    started_at: float
    finished_at: float
    progress: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)
    timed_out: bool = False
    #: CPU seconds (user + system) all Locust processes of this host used, from the kernel.
    generator_cpu_s: float | None = None

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the coordinator's log, for error messages."""
        for path in self.logs.values():
            text = path.read_text(errors="replace") if path.exists() else ""
            if text.strip():
                return text[-chars:]
        return ""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def start(plan: LoadPlan, files: RunFiles) -> dict[str, subprocess.Popen[bytes]]:
    """Start this host's Locust processes (their output goes to log files)."""
    files.directory.mkdir(parents=True, exist_ok=True)
    for stale in (files.summary, files.progress):
        stale.unlink(missing_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, argv in build_commands(plan, files):
            with files.log(name).open("wb") as log:
                procs[name] = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
    except BaseException:
        stop_all(list(procs.values()), STOP_GRACE_S)
        raise
    return procs


def run(
    plan: LoadPlan,
    files: RunFiles,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    on_start: Callable[[list[int]], None] | None = None,
) -> LoadOutcome:
    """Run ``plan`` to its end (or ``duration + GRACE_S``) and collect the outcome.

    ``on_start`` gets the pids of the Locust processes (for the profiler); ``on_progress`` gets
    the master's progress snapshot about once a second.
    """
    started = time.time()
    # The Locust processes are this process's only children during the run, so the kernel's
    # accounting of reaped children is exactly their CPU, with nothing sampled.
    cpu_before = _children_cpu_s()
    procs = start(plan, files)
    coordinator = next(iter(procs.values()))
    deadline = time.monotonic() + plan.time_limit_s
    timed_out = False
    snapshots: list[dict[str, Any]] = []
    try:
        if on_start is not None:
            on_start([p.pid for p in procs.values()])
        last: dict[str, Any] | None = None
        while coordinator.poll() is None:
            if time.monotonic() > deadline:
                timed_out = True
                break
            snap = _read_json(files.progress)
            if snap is not None and snap != last:
                last = snap
                snapshots.append(snap)
                if on_progress is not None:
                    on_progress(snap)
            time.sleep(0.5)
    finally:
        stop_all(list(procs.values()), END_GRACE_S)
    return LoadOutcome(
        summary=_read_json(files.summary),
        returncodes={name: p.returncode for name, p in procs.items()},
        started_at=started,
        finished_at=time.time(),
        progress=snapshots,
        logs={name: files.log(name) for name in procs},
        timed_out=timed_out,
        generator_cpu_s=round(_children_cpu_s() - cpu_before, 3),
    )


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
