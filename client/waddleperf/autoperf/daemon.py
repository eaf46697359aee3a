"""The AutoPerf agent: the composition root that wires policy, probes, load, events and sink.

Like Locust's ``env.py`` it owns nothing clever itself: the policy decides (pure), the step
runner measures, the load runner loads, the sink keeps, the event hooks tell the notifier and
the display. One :meth:`Agent.run_cycle` is (the order is :func:`policy.cycle`'s):

1. tier 1 for every server, all probes in parallel;
2. the policy looks at each server's tier-1 breaches → stay, escalate or return to tier 1;
3. tier 2 (one probe at a time, servers one after another) for servers at tier ≥ 2, and the
   policy looks at its breaches → maybe tier 3;
4. tier 3 probes for servers at tier 3, then one load run per target (once per cycle);
5. every record, event and profiling line goes to the cycle's sink, which is finished even
   when the agent was stopped halfway.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from waddleperf.autoperf import policy
from waddleperf.autoperf.config import AutoPerfConfig, LoadTarget
from waddleperf.autoperf.events import Events, TransitionEvent, event_info, event_record
from waddleperf.autoperf.loadrun import LoadJob, LoadOutcome, run_load
from waddleperf.autoperf.plan import Step, plan_tier
from waddleperf.autoperf.sink import CYCLE_MEMBER, CycleSink, Sink, safe_name
from waddleperf.autoperf.steps import ProbeRunner, StepOutcome, StepRunner, call_probe
from waddleperf.autoperf.summary import CycleSummary, ServerLine
from waddleperf.probes.base import RunContext
from waddleperf.results.model import (
    Result,
    Scalar,
    Status,
    default_agent,
    format_time,
    new_run_id,
    utc_now,
)

log = logging.getLogger("waddleperf.autoperf")
#: ``run_load``'s shape: job, work directory, stop flag, time limit, run context, info.
LoadRunner = Callable[
    [LoadJob, Path, threading.Event, float, RunContext, Mapping[str, Scalar]], LoadOutcome
]


def observation(outcome: StepOutcome) -> policy.Observation:
    """A step's record as the policy sees it (server, label and kind from the step)."""
    step, result = outcome.step, outcome.result
    return policy.Observation(
        server=step.server,
        step=step.name,
        probe=step.probe,
        metrics={k: v for k, v in result.metrics.items()},
        failed=result.status is Status.FAILED,
        error=result.error,
    )


def policy_config(cfg: AutoPerfConfig) -> policy.PolicyConfig:
    """The policy's settings: ``hysteresis`` as it is, each upper tier's ``max_cycles``."""
    held = {2: cfg.tiers.tier2.max_cycles, 3: cfg.tiers.tier3.max_cycles}
    return policy.PolicyConfig(**cfg.hysteresis.model_dump(), max_cycles=held)


class Agent:
    """Runs cycles against the configured servers; keeps each server's policy state."""

    def __init__(
        self,
        cfg: AutoPerfConfig,
        sink: Sink,
        *,
        stop: threading.Event | None = None,
        events: Events | None = None,
        probe: ProbeRunner = call_probe,
        load: LoadRunner = run_load,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
        work_dir: Path | None = None,
    ) -> None:
        self.cfg = cfg
        self.sink = sink
        self.stop = stop or threading.Event()
        self.events = events or Events()
        self.agent = cfg.agent.id or default_agent()
        self.load = load
        self.clock = clock
        self.draw = draw
        # Locust's files live outside the spool, which must hold nothing but bundles.
        self.work_dir = (
            work_dir or Path(tempfile.gettempdir()) / f"waddleperf-autoperf-{os.getpid()}"
        )
        self.policy = policy_config(cfg)
        self.states = {s.label: policy.ServerState() for s in cfg.servers}
        self.cycles = 0
        self._probe = probe
        self._t1 = policy.limits(policy.TIER1_RULES, cfg.tiers.tier1.thresholds.model_dump())
        self._t2 = policy.limits(policy.TIER2_RULES, cfg.tiers.tier2.thresholds.model_dump())

    # -- the clock ----------------------------------------------------------------------

    def run_forever(
        self,
        on_summary: Callable[[CycleSummary], None],
        max_cycles: int | None = None,
        once: bool = False,
        force_tier: int | None = None,
    ) -> int:
        """Cycles every ``interval_s`` (±jitter) until stopped; returns how many ran.

        ``once`` and ``force_tier`` run a single cycle; ``max_cycles`` bounds the loop.
        """
        tiers = self.cfg.tiers
        limit = 1 if once or force_tier is not None else max_cycles
        ran = 0
        if limit != 1:
            # agents deployed together start together: spread the first cycle too
            self.stop.wait(policy.start_offset(tiers.interval_s, tiers.jitter_pct, self.draw()))
        try:
            while not self.stop.is_set() and (limit is None or ran < limit):
                began = time.monotonic()
                try:
                    on_summary(self.run_cycle(once=once, force_tier=force_tier))
                except Exception:
                    if limit == 1:
                        raise
                    # an unattended agent outlives one bad cycle (its records are written)
                    log.exception("cycle %d failed; next cycle as scheduled", self.cycles)
                ran += 1
                if limit is not None and ran >= limit:
                    break
                elapsed = time.monotonic() - began
                delay = policy.next_delay(tiers.interval_s, tiers.jitter_pct, self.draw(), elapsed)
                self.stop.wait(delay)
        finally:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        return ran

    def close(self) -> int:
        """The end of the agent's life: ``quitting`` listeners hear whether it was stopped,
        then the sink delivers what it holds (unless stopped). Returns bundles lost."""
        stopped = self.stop.is_set()
        self.events.quitting.fire(stopped)
        return self.sink.close(drain=not stopped)

    # -- one cycle -----------------------------------------------------------------------

    def run_cycle(self, once: bool = False, force_tier: int | None = None) -> CycleSummary:
        """One cycle; ``once`` lets a single breach escalate (no history to wait for)."""
        self.cycles += 1
        run_id = new_run_id()
        started = utc_now()
        summary = CycleSummary(run_id, self.cycles, self.agent, format_time(started))
        out = self.sink.begin_cycle(self.agent, run_id, started)
        for srv in self.cfg.servers:
            summary.servers[srv.label] = ServerLine(srv.label, self.states[srv.label].tier)
        output: str | None = None
        try:
            cfg = self.policy.once() if once else self.policy
            if force_tier is not None:
                self._forced(out, summary, run_id, force_tier)
            else:
                self._tiers(out, summary, run_id, cfg)
        finally:
            for line in summary.servers.values():
                line.tier_after = self.states[line.server].tier
            try:
                doc = {**summary.to_dict(), "labels": self.cfg.agent.labels}
                out.add_raw(CYCLE_MEMBER, json.dumps(doc, indent=1, default=str).encode())
                output = out.finish()
            except Exception as exc:  # the sink logs its own detail; the agent carries on
                log.error("cycle %s could not be written: %s", run_id, exc)
            summary.finish(utc_now(), self.stop.is_set(), output)
            self.events.cycle.fire(summary)
        return summary

    def _keep(self, out: CycleSink, result: Result) -> None:
        out.add_result(result)
        self.events.result.fire(result)

    def _context(self, tier: int, run_id: str) -> RunContext:
        return RunContext(agent=self.agent, tier=tier, run_id=run_id)

    def _runner(self, out: CycleSink, summary: CycleSummary, run_id: str) -> StepRunner:
        def ctx_for(step: Step) -> RunContext:
            return self._context(step.tier, run_id)

        def on_result(outcome: StepOutcome) -> None:
            step, result = outcome.step, outcome.result
            self._keep(out, result)
            summary.add_step(step.server, step.name, result)
            self.events.step.fire(
                f"tier {step.tier} {step.server}: {step.name} {result.status.value}"
                + (f" — {result.error}" if result.error else "")
            )

        return StepRunner(self.stop, ctx_for, self._probe, on_result)

    def _plan(self, tier: int, servers: Iterable[str], summary: CycleSummary) -> list[Step]:
        specs = self.cfg.tiers.tier(tier).probes
        steps: list[Step] = []
        for label in servers:
            planned, skipped = plan_tier(self.cfg.server(label), tier, specs)
            steps += planned
            summary.skipped += [s.__dict__ for s in skipped]
            summary.servers[label].tiers_run.append(tier)
        return steps

    def _decide(
        self,
        out: CycleSink,
        summary: CycleSummary,
        run_id: str,
        decide: Callable[[policy.ServerState, str], policy.Decision],
        servers: Iterable[str],
    ) -> None:
        for label in servers:
            self._apply(out, summary, run_id, label, decide(self.states[label], label))

    def _apply(
        self, out: CycleSink, summary: CycleSummary, run_id: str, label: str, d: policy.Decision
    ) -> None:
        """Keep ``label``'s new state, note the decision, record and announce its transitions."""
        self.states[label] = d.state
        if d.note:
            summary.servers[label].notes.append(d.note)
        for tr in d.transitions:
            self._transition(out, summary, run_id, tr)

    def _transition(
        self, out: CycleSink, summary: CycleSummary, run_id: str, tr: policy.Transition
    ) -> None:
        record = event_record(tr, self.agent, run_id, self.cfg.server(tr.server).host)
        self._keep(out, record)
        summary.add_event(event_info(tr))
        self.events.transition.fire(TransitionEvent(tr, record))
        self.events.step.fire(f"{tr.server}: tier {tr.from_tier} → {tr.to_tier}: {tr.reason}")

    def _tiers(
        self, out: CycleSink, summary: CycleSummary, run_id: str, cfg: policy.PolicyConfig
    ) -> None:
        """Tiers 1 to 3 in the policy's order (:func:`policy.cycle`); the I/O is here."""
        runner = self._runner(out, summary, run_id)

        def run(tier: int, servers: list[str]) -> dict[str, list[policy.Breach]] | None:
            if tier == 3:
                self._tier3(out, summary, run_id, servers)
                return {}
            outcomes = self._run_tier(runner, tier, servers, summary)
            if self.stop.is_set():
                return None
            lim = self._t1 if tier == 1 else self._t2
            grouped = _group(outcomes).items()
            return {label: policy.find_breaches(obs, lim) for label, obs in grouped}

        def decided(label: str, decision: policy.Decision) -> None:
            self._apply(out, summary, run_id, label, decision)

        labels = [s.label for s in self.cfg.servers]
        policy.cycle({label: self.states[label] for label in labels}, run, self.clock, cfg, decided)

    def _run_tier(
        self, runner: StepRunner, tier: int, servers: list[str], summary: CycleSummary
    ) -> list[StepOutcome]:
        """Plan and run ``tier``'s probes for ``servers``: tier 1 in parallel, others in turn."""
        steps = self._plan(tier, servers, summary)
        timeout = self.cfg.tiers.tier(tier).step_timeout_s
        return runner.run(steps, parallel=tier == 1, timeout_s=timeout)

    def _tier3(
        self, out: CycleSink, summary: CycleSummary, run_id: str, servers: list[str]
    ) -> None:
        self._run_tier(self._runner(out, summary, run_id), 3, servers, summary)
        if self.cfg.tiers.tier3.load and not self.stop.is_set():
            for target in self.cfg.targets:
                if self.stop.is_set():
                    break
                self._load(out, summary, run_id, target)

    def _forced(self, out: CycleSink, summary: CycleSummary, run_id: str, tier: int) -> None:
        labels = [s.label for s in self.cfg.servers]
        self._decide(out, summary, run_id, lambda st, label: policy.forced(st, label, tier),
                     labels)  # fmt: skip
        if tier == 3:
            self._tier3(out, summary, run_id, labels)
            return
        self._run_tier(self._runner(out, summary, run_id), tier, labels, summary)

    def _load(self, out: CycleSink, summary: CycleSummary, run_id: str, target: LoadTarget) -> None:
        stats_url = token_env = None
        if target.stats_server is not None:
            stats_server = self.cfg.server(target.stats_server)
            stats_url, token_env = stats_server.base_url + "/stats", stats_server.stats_token_env
        self.events.step.fire(f"tier 3 load {target.name}: {target.url} ({target.profile})")
        directory = self.work_dir / run_id / safe_name(f"load-{target.name}")
        step = f"load {target.name}"
        info: dict[str, Scalar] = {"server": target.stats_server, "step": step}
        timeout = self.cfg.tiers.tier3.step_timeout_s
        job = LoadJob(target, stats_url, token_env)
        outcome = self.load(job, directory, self.stop, timeout, self._context(3, run_id), info)
        record = outcome.record
        self._keep(out, record)
        # the summary's server column as it always was for a load run: its stats server
        summary.add_step(str(target.stats_server), step, record)
        self.events.step.fire(f"tier 3 load {target.name}: {record.status.value}")
        _keep_load_files(out, outcome, run_id, target.name)


def _group(outcomes: Sequence[StepOutcome]) -> dict[str, list[policy.Observation]]:
    grouped: dict[str, list[policy.Observation]] = {}
    for outcome in outcomes:
        obs = observation(outcome)
        grouped.setdefault(obs.server, []).append(obs)
    return grouped


def _keep_load_files(out: CycleSink, outcome: LoadOutcome, run_id: str, name: str) -> None:
    """Profiling as k6 lines and Locust's own summary as raw output; then drop the work dir."""
    from waddleperf.profiling import ndjson

    if outcome.samples:
        out.add_profiling(ndjson.lines(outcome.samples, run_id, {"label": name}))
    if outcome.directory is None:
        return
    for file in ("locust-summary.json", "autoperf-load.log"):
        path = outcome.directory / file
        if path.exists() and (file.endswith(".json") or outcome.record.status is Status.FAILED):
            out.add_raw(safe_name(f"load-{name}-{file}"), path.read_bytes())
    shutil.rmtree(outcome.directory, ignore_errors=True)
