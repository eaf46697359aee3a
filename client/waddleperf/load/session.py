"""One load run end to end: profiler on, Locust processes, record, NDJSON and plots written;
and an A/B comparison: two such runs (or one and a stored record), compared.

The composition root of ``waddleperf load``: it wires the runner, the sampler, the result
record and the comparison; each of those stays ignorant of the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from waddleperf.load import runner
from waddleperf.load.compare import Comparison, Rules, compare, overhead, report
from waddleperf.load.plan import LoadOptions
from waddleperf.load.result import STANDALONE, to_record
from waddleperf.load.runner import LoadPlan, RunFiles
from waddleperf.probes.base import RunContext
from waddleperf.results import Result, Status, new_run_id
from waddleperf.results.atomic import atomic_write_bytes
from waddleperf.results.model import Scalar

#: Profiler sampling period, seconds.
SAMPLE_INTERVAL_S = 1.0


@dataclass(frozen=True)
class TargetSpec:
    """How to find the target's processes: local pids, a local listening port, or a server's
    ``/stats`` URL with the target's name there (and the name of the variable holding the
    server's operator token, if it asks for one). All empty: the target is not profiled."""

    pids: Sequence[int] = ()
    port: int | None = None
    stats_url: str | None = None
    stats_name: str = "target"
    stats_token_env: str | None = None

    @property
    def empty(self) -> bool:
        return not self.pids and self.port is None and self.stats_url is None


@dataclass
class RunArtifacts:
    """The record and the files a run left in its directory."""

    record: Result
    directory: Path
    files: list[Path] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)


def _target_source(spec: TargetSpec) -> Any:
    from waddleperf.profiling.sampler import ProcessTreeSource, RemoteStatsSource, stats_token

    if spec.stats_url:
        token = stats_token(spec.stats_token_env)
        return RemoteStatsSource("target", spec.stats_url, spec.stats_name, token=token)
    return ProcessTreeSource("target", pids=spec.pids, port=spec.port)


def execute(
    plan: LoadPlan,
    directory: Path,
    target: TargetSpec = TargetSpec(),
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    plots: bool = True,
    label: str = "",
    agent_pid: int | None = None,
    context: RunContext = STANDALONE,
    info: Mapping[str, Scalar] | None = None,
) -> RunArtifacts:
    """Run ``plan`` with the target and the load generator profiled; write everything.

    With ``agent_pid`` the AutoPerf agent that asked for the run is profiled too (source
    ``agent``: its process and everything it started, this run included). The record is made
    in ``context`` (agent, tier, run id) with ``info`` (:func:`result.to_record`).

    Files in ``directory``: ``result.json`` (the record), ``profile.ndjson`` (k6 format),
    ``profile-*.png`` and the Locust logs.
    """
    from waddleperf.profiling import ndjson
    from waddleperf.profiling.sampler import ProcessTreeSource, Sampler, SystemSource

    directory.mkdir(parents=True, exist_ok=True)
    if context.run_id is None:
        context = replace(context, run_id=new_run_id())
    run_id = context.run_id or ""
    sources: list[Any] = [SystemSource()]
    if not target.empty:
        sources.append(_target_source(target))
    if agent_pid is not None:
        sources.append(ProcessTreeSource("agent", pids=[agent_pid]))
    sampler = Sampler(sources, SAMPLE_INTERVAL_S).start()
    generator_pids: list[int] = []

    def started(pids: list[int]) -> None:
        generator_pids.extend(pids)
        sampler.add(ProcessTreeSource("generator", pid_provider=lambda: generator_pids))

    try:
        outcome = runner.run(plan, RunFiles(directory), on_progress=on_progress, on_start=started)
    finally:
        samples = sampler.stop()
    record = to_record(plan, outcome, samples, context, info)
    out = [directory / "result.json", directory / "profile.ndjson"]
    atomic_write_bytes(out[0], record.to_json(indent=2).encode())
    tags = {"label": label} if label else None
    ndjson.write(out[1], samples, run_id, tags)
    if plots and samples:
        from waddleperf.profiling.plots import plot_all

        out += plot_all(samples, directory)
    return RunArtifacts(record, directory, out, samples)


def load_record(path: Path) -> Result:
    """A stored record (e.g. a baseline's ``result.json``)."""
    return Result.from_json(path.read_text())


def save_json(path: Path, data: Any) -> None:
    """Pretty JSON to ``path``, written atomically (a reader never sees half of it)."""
    atomic_write_bytes(path, json.dumps(data, indent=2, default=str).encode())


@dataclass(frozen=True)
class Side:
    """One side of an A/B comparison: its label and the URL to load with where its target's
    processes are, or a stored record (``baseline``) instead of a run."""

    name: str
    url: str | None = None
    target: TargetSpec = TargetSpec()
    baseline: Path | None = None


@dataclass(frozen=True)
class ComparisonRun:
    """Both sides' records, the verdict, what B costs over A and the report file written."""

    a: Result
    b: Result
    comparison: Comparison
    overhead: dict[str, float | None]
    report: Path

    @property
    def failed(self) -> list[Result]:
        """The sides whose run failed: their figures decide nothing."""
        return [r for r in (self.a, self.b) if r.status is Status.FAILED]


def execute_comparison(
    options: LoadOptions,
    a: Side,
    b: Side,
    rules: Rules,
    directory: Path,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    plots: bool = True,
) -> ComparisonRun:
    """Load A, then B, with the same ``options`` (or read A's stored record); compare them.

    Each run writes under ``directory/a`` and ``directory/b`` (:func:`execute`); the report is
    ``directory/comparison.json`` (:func:`compare.report`), the targets' CPU and memory curves
    side by side ``comparison.png``.
    """
    curves: dict[str, list[dict[str, Any]]] = {}

    def record_of(side: Side, part: str) -> Result:
        if side.baseline is not None:
            return load_record(side.baseline)
        if side.url is None:
            raise ValueError(f"side {side.name} has neither a URL nor a baseline")
        plan = LoadPlan(side.url, options)
        art = execute(plan, directory / part, side.target, on_progress, plots, side.name)
        curves[side.name] = [x for x in art.samples if x.get("source") == "target"]
        return art.record

    rec_a, rec_b = record_of(a, "a"), record_of(b, "b")
    result = compare(rec_a.metrics, rec_b.metrics, rules, a.name, b.name)
    extra = overhead(rec_a.metrics, rec_b.metrics)
    drawn = {name: curve for name, curve in curves.items() if curve}
    if plots and drawn:
        from waddleperf.profiling.plots import plot_comparison

        plot_comparison(drawn, directory / "comparison.png")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "comparison.json"
    save_json(path, report(result, extra, rules, rec_a, rec_b))
    return ComparisonRun(rec_a, rec_b, result, extra, path)
