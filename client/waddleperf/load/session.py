"""One load run end to end: profiler on, Locust processes, record, NDJSON and plots written.

The composition root of ``waddleperf load``: it wires the runner, the sampler and the result
record; each of those stays ignorant of the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waddleperf.load import runner
from waddleperf.load.result import to_record
from waddleperf.load.runner import LoadPlan, RunFiles
from waddleperf.results import Result, new_run_id

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
) -> RunArtifacts:
    """Run ``plan`` with the target and the load generator profiled; write everything.

    With ``agent_pid`` the AutoPerf agent that asked for the run is profiled too (source
    ``agent``: its process and everything it started, this run included).

    Files in ``directory``: ``result.json`` (the record), ``profile.ndjson`` (k6 format),
    ``profile-*.png`` and the Locust logs.
    """
    from waddleperf.profiling import ndjson
    from waddleperf.profiling.sampler import ProcessTreeSource, Sampler, SystemSource

    directory.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id()
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
    record = to_record(plan, outcome, samples, run_id=run_id)
    out = [directory / "result.json", directory / "profile.ndjson"]
    out[0].write_text(record.to_json(indent=2))
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
    """Pretty JSON to ``path``."""
    path.write_text(json.dumps(data, indent=2, default=str))
