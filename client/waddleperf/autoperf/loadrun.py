"""Tier-3 load runs: ``waddleperf load``'s machinery (session.execute) in a process of its own.

The parent writes a small JSON spec, starts ``python -m waddleperf.autoperf.loadrun SPEC`` in
a new session, and polls it with the agent's stop flag. On stop it sends SIGTERM — the child
turns that into SystemExit so the load engine's ``finally`` tears Locust down — and, after a
short grace, SIGKILLs the child's whole process group, so no Locust outlives the agent's
5-second stop budget. The child leaves ``result.json`` (the load engine's record) and
``samples.json`` (profiler samples of the agent, the generator and the target).

A run is given the agent's run context (agent, tier, run id) and what the agent calls it
(``info``); every record it returns carries them, set once where the record is made here (the
load engine's own record knows no agent: it is given them when read back from the child).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from waddleperf.load.result import KIND as LOAD_KIND
from waddleperf.probes.base import RunContext
from waddleperf.results.model import Result, Scalar, Status, utc_now

# LOAD_KIND is re-exported: the kind of a load run's record, for the agent and its tests.
__all__ = ["LOAD_KIND", "LoadOutcome", "LoadSpec", "run_load"]

#: Seconds the child gets after SIGTERM before its process group is killed.
STOP_GRACE_S = 2.0
SPEC_FILE = "autoperf-load.json"


@dataclass(frozen=True)
class LoadSpec:
    """One load run: target URL and size, where the target's processes are reported."""

    name: str
    url: str
    profile: str = "light"
    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    user: str = "web"
    stats_url: str | None = None
    stats_name: str = "target"
    #: The variable holding the stats server's operator token (its name, never the token).
    stats_token_env: str | None = None


@dataclass
class LoadOutcome:
    """The record, the profiler samples and the directory the run wrote."""

    record: Result
    samples: list[dict[str, Any]] = field(default_factory=list)
    directory: Path | None = None


def _context(ctx: RunContext, info: Mapping[str, Scalar]) -> dict[str, Any]:
    return {"agent": ctx.agent or "unknown", "tier": ctx.tier, "run_id": ctx.run_id or "unknown",
            "info": dict(info)}  # fmt: skip


def _failed(
    spec: LoadSpec, error: str, started: Any, ctx: RunContext, info: Mapping[str, Scalar]
) -> Result:
    return Result(
        kind=LOAD_KIND,
        target=spec.url,
        started_at=started,
        finished_at=max(utc_now(), started),
        params={"profile": spec.profile, "target": spec.name},
        status=Status.FAILED,
        error=error,
        **_context(ctx, info),
    )


def _in_context(record: Result, ctx: RunContext, info: Mapping[str, Scalar]) -> Result:
    own = _context(ctx, info)
    return record.model_copy(update={**own, "info": {**record.info, **own["info"]}})


def run_load(
    spec: LoadSpec,
    directory: Path,
    stop: threading.Event,
    timeout_s: float,
    context: RunContext,
    info: Mapping[str, Scalar] | None = None,
) -> LoadOutcome:
    """Run ``spec`` in a child process; a failed record if it is stopped, times out or dies.

    The record carries ``context`` (agent, tier, run id) and ``info`` whatever happened.
    """
    from waddleperf.profiling.sampler import stats_token

    info = dict(info or {})
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SPEC_FILE).write_text(json.dumps(asdict(spec)))
    started = utc_now()
    try:
        stats_token(spec.stats_token_env)  # named but unset: say so, do not sample nothing
    except ValueError as exc:
        return LoadOutcome(_failed(spec, str(exc), started, context, info), directory=directory)
    with (directory / "autoperf-load.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "waddleperf.autoperf.loadrun", str(directory)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if stop.wait(0.2) or time.monotonic() > deadline:
            _terminate(proc)
            why = (
                "cancelled: the agent was told to stop"
                if stop.is_set()
                else (f"did not finish within tier 3's step_timeout_s ({timeout_s:g} s)")
            )
            return LoadOutcome(_failed(spec, why, started, context, info), directory=directory)
    try:
        record = _in_context(
            Result.from_json((directory / "result.json").read_text()), context, info
        )
        samples = json.loads((directory / "samples.json").read_text())
    except (OSError, ValueError) as exc:
        tail = (directory / "autoperf-load.log").read_text(errors="replace")[-600:].strip()
        error = f"the load run left no result ({exc}); exit {proc.returncode}: {tail}"
        return LoadOutcome(_failed(spec, error, started, context, info), directory=directory)
    return LoadOutcome(record, samples if isinstance(samples, list) else [], directory)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    # the child leads its own session: its group holds every Locust process it started
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


def _child(directory: Path) -> int:
    from waddleperf.load.profiles import resolve_profile
    from waddleperf.load.runner import LoadPlan
    from waddleperf.load.session import TargetSpec, execute

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    spec = LoadSpec(**json.loads((directory / SPEC_FILE).read_text()))
    plan = LoadPlan(
        host=spec.url,
        profile=resolve_profile(spec.profile, spec.users, spec.spawn_rate, spec.duration_s),
        user=spec.user,
    )
    target = TargetSpec(
        stats_url=spec.stats_url, stats_name=spec.stats_name, stats_token_env=spec.stats_token_env
    )
    # The parent is the agent: its own cost is part of what tier 3 profiles.
    art = execute(plan, directory, target, plots=False, label=spec.name, agent_pid=os.getppid())
    (directory / "samples.json").write_text(json.dumps(art.samples, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
