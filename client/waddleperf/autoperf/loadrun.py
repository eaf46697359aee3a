"""Tier-3 load runs: ``waddleperf load``'s machinery (session.execute) in a process of its own.

The parent writes a small JSON job, starts ``python -m waddleperf.autoperf.loadrun DIR`` in a
new session, and polls it with the agent's stop flag. On stop it sends SIGTERM — the child
turns that into SystemExit so the load engine's ``finally`` tears Locust down — and, after a
short grace, SIGKILLs the child's whole process group, so no Locust outlives the agent's
5-second stop budget. The child leaves ``result.json`` (the load engine's record) and
``samples.json`` (profiler samples of the agent, the generator and the target).

A run is given the agent's run context (agent, tier, run id) and what the agent calls it
(``info``); the job carries both to the child, whose record is made with them
(``load.result.to_record``). A run that leaves no record gets a failed one made here, with
the same context.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from waddleperf.autoperf.config import LoadTarget
from waddleperf.load.result import KIND as LOAD_KIND
from waddleperf.probes.base import RunContext
from waddleperf.results.model import Result, Scalar, Status, utc_now
from waddleperf_common import procs

# LOAD_KIND is re-exported: the kind of a load run's record, for the agent and its tests.
__all__ = ["LOAD_KIND", "LoadJob", "LoadOutcome", "run_load"]

#: Seconds the child gets after SIGTERM before its process group is killed.
STOP_GRACE_S = 2.0
JOB_FILE = "autoperf-load.json"


@dataclass(frozen=True)
class LoadJob:
    """One tier-3 load run: the configured target (its plan, URL and name) and the ``/stats``
    URL of the server that reports the target's processes (None: not profiled)."""

    target: LoadTarget
    stats_url: str | None = None
    #: The variable holding the stats server's operator token (its name, never the token).
    stats_token_env: str | None = None

    @property
    def name(self) -> str:
        """What the agent calls the target."""
        return self.target.name

    @property
    def url(self) -> str:
        """The target's base URL, what the run loads."""
        return self.target.url

    @property
    def stats_name(self) -> str:
        """The target's name in the server's ``/stats`` (its own name unless configured)."""
        return self.target.stats_name or self.target.name


@dataclass
class LoadOutcome:
    """The record, the profiler samples and the directory the run wrote."""

    record: Result
    samples: list[dict[str, Any]] = field(default_factory=list)
    directory: Path | None = None


def _failed(
    job: LoadJob, error: str, started: Any, ctx: RunContext, info: Mapping[str, Scalar]
) -> Result:
    return Result(
        kind=LOAD_KIND,
        target=job.url,
        started_at=started,
        finished_at=max(utc_now(), started),
        agent=ctx.agent or "unknown",
        tier=ctx.tier,
        run_id=ctx.run_id or "unknown",
        params={"profile": job.target.profile, "target": job.name},
        info=dict(info),
        status=Status.FAILED,
        error=error,
    )


def _job_document(job: LoadJob, ctx: RunContext, info: Mapping[str, Scalar]) -> dict[str, Any]:
    return {
        "target": job.target.model_dump(mode="json"),
        "stats_url": job.stats_url,
        "stats_token_env": job.stats_token_env,
        "context": {"agent": ctx.agent, "tier": ctx.tier, "run_id": ctx.run_id},
        "info": dict(info),
    }


def run_load(
    job: LoadJob,
    directory: Path,
    stop: threading.Event,
    timeout_s: float,
    context: RunContext,
    info: Mapping[str, Scalar] | None = None,
) -> LoadOutcome:
    """Run ``job`` in a child process; a failed record if it is stopped, times out or dies.

    The record carries ``context`` (agent, tier, run id) and ``info`` whatever happened.
    """
    from waddleperf.profiling.sampler import stats_token

    info = dict(info or {})
    directory.mkdir(parents=True, exist_ok=True)
    (directory / JOB_FILE).write_text(json.dumps(_job_document(job, context, info)))
    started = utc_now()
    try:
        stats_token(job.stats_token_env)  # named but unset: say so, do not sample nothing
    except ValueError as exc:
        return LoadOutcome(_failed(job, str(exc), started, context, info), directory=directory)
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
            # the child leads its own session: its group holds every Locust process it started
            procs.stop(proc, STOP_GRACE_S, group=True)
            why = (
                "cancelled: the agent was told to stop"
                if stop.is_set()
                else (f"did not finish within tier 3's step_timeout_s ({timeout_s:g} s)")
            )
            return LoadOutcome(_failed(job, why, started, context, info), directory=directory)
    try:
        record = Result.from_json((directory / "result.json").read_text())
        samples = json.loads((directory / "samples.json").read_text())
    except (OSError, ValueError) as exc:
        tail = (directory / "autoperf-load.log").read_text(errors="replace")[-600:].strip()
        error = f"the load run left no result ({exc}); exit {proc.returncode}: {tail}"
        return LoadOutcome(_failed(job, error, started, context, info), directory=directory)
    return LoadOutcome(record, samples if isinstance(samples, list) else [], directory)


def _child(directory: Path) -> int:
    from waddleperf.load.runner import LoadPlan
    from waddleperf.load.session import TargetSpec, execute

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    doc = json.loads((directory / JOB_FILE).read_text())
    job = LoadJob(
        LoadTarget.model_validate(doc["target"]), doc["stats_url"], doc["stats_token_env"]
    )
    target = TargetSpec(
        stats_url=job.stats_url, stats_name=job.stats_name, stats_token_env=job.stats_token_env
    )
    # The parent is the agent: its own cost is part of what tier 3 profiles.
    art = execute(
        LoadPlan(job.url, job.target.plan),
        directory,
        target,
        plots=False,
        label=job.name,
        agent_pid=os.getppid(),
        context=RunContext(**doc["context"]),
        info=doc["info"],
    )
    (directory / "samples.json").write_text(json.dumps(art.samples, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
