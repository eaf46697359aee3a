"""Running a tier's probe steps: in parallel threads (tier 1) or one after another, cancellable.

A probe call cannot be interrupted from outside, so each runs on a daemon thread and the
caller stops *waiting* for it when the agent is told to stop or the step's time is up: the
probe's record is then a failed one saying so, and the thread dies with the process. Nothing
a probe does — raise, hang, be unknown — escapes as an exception: it becomes a failed record.

Each record comes back beside the step that made it (:class:`StepOutcome`): who the server
was and what the step is called travel there, for the policy and the summary. The record also
names them in ``info.server``/``info.step`` for the bundle's readers, set once here when the
outcome is made, never read back by the agent.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from waddleperf.autoperf.plan import Step
from waddleperf.probes.base import RunContext, UnknownProbeError, run_probe
from waddleperf.results.model import Result, Scalar, Status, utc_now

#: How often a waiting caller looks at the stop flag, seconds.
POLL_S = 0.1
ProbeRunner = Callable[[Step, RunContext], Result]


@dataclass(frozen=True)
class StepOutcome:
    """A step and the record it produced (its own, or a failed one saying why not)."""

    step: Step
    result: Result


def call_probe(step: Step, ctx: RunContext) -> Result:
    """Run ``step`` through the probe registry (``run_probe``)."""
    return run_probe(step.probe, step.options, ctx)


def failed_record(step: Step, ctx: RunContext, error: str, started: float | None = None) -> Result:
    """A failed record for a step that produced none of its own."""
    now = utc_now()
    begin = now if started is None else min(now, _utc(started))
    return Result(
        kind=f"probe.{step.probe}",
        target=step.target,
        started_at=begin,
        finished_at=now,
        agent=ctx.agent or "unknown",
        tier=step.tier,
        run_id=ctx.run_id or "unknown",
        params={"step": step.name},
        info=step_info(step),
        status=Status.FAILED,
        error=error,
    )


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _explain(exc: BaseException) -> str:
    if isinstance(exc, UnknownProbeError):
        return f"probe {exc.args[0]!r} is not available on this agent"
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "options"
        return f"invalid option {key}: {err['msg']}"
    return f"the probe crashed: {type(exc).__name__}: {exc}"


def step_info(step: Step) -> dict[str, Scalar]:
    """What a record says of its step, for analysis (tells udp from udp_long, per server)."""
    return {"server": step.server, "step": step.name}


def _outcome(step: Step, result: Result) -> StepOutcome:
    return StepOutcome(step, result.model_copy(update={"info": {**result.info, **step_info(step)}}))


class StepRunner:
    """Runs steps with a shared stop flag; ``run_probe`` can be swapped for tests."""

    def __init__(
        self,
        stop: threading.Event,
        ctx_for: Callable[[Step], RunContext],
        probe: ProbeRunner = call_probe,
        on_result: Callable[[StepOutcome], None] | None = None,
    ) -> None:
        self.stop = stop
        self.ctx_for = ctx_for
        self.probe = probe
        self.on_result = on_result

    def _start(self, index: int, step: Step, done: queue.Queue[tuple[int, StepOutcome]]) -> None:
        ctx = self.ctx_for(step)

        def body() -> None:
            try:
                outcome = _outcome(step, self.probe(step, ctx))
            except Exception as exc:  # a probe must never take the agent down
                outcome = StepOutcome(step, failed_record(step, ctx, _explain(exc)))
            done.put((index, outcome))

        threading.Thread(target=body, name=f"probe-{step.name}", daemon=True).start()

    def run(self, steps: Sequence[Step], parallel: bool, timeout_s: float) -> list[StepOutcome]:
        """Every step with its record, in ``steps`` order; unfinished ones failed with why."""
        results: dict[int, StepOutcome] = {}
        deadline = time.monotonic() + timeout_s
        batches = [list(range(len(steps)))] if parallel else [[i] for i in range(len(steps))]
        started: dict[int, float] = {}
        for batch in batches:
            if self.stop.is_set() or time.monotonic() >= deadline:
                break
            done: queue.Queue[tuple[int, StepOutcome]] = queue.Queue()
            for i in batch:
                started[i] = time.time()
                self._start(i, steps[i], done)
            pending = set(batch)
            while pending and not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    index, outcome = done.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                pending.discard(index)
                results[index] = outcome
                if self.on_result is not None:
                    self.on_result(outcome)
        why = (
            "cancelled: the agent was told to stop"
            if self.stop.is_set()
            else f"did not finish within the tier's step_timeout_s ({timeout_s:g} s)"
        )
        out: list[StepOutcome] = []
        for i, step in enumerate(steps):
            if i not in results:
                failed = failed_record(step, self.ctx_for(step), why, started.get(i))
                results[i] = StepOutcome(step, failed)
                if self.on_result is not None:
                    self.on_result(results[i])
            out.append(results[i])
        return out
