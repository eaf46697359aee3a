"""``waddleperf load``: tier-3 load runs with Locust, profiling, comparison and regression.

Only typer is imported at module level; Locust always runs in processes of its own and every
other heavy dependency (psutil, matplotlib, pydantic models) is imported inside a command.
"""

from __future__ import annotations

import functools
import inspect
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer

from waddleperf import extras

if TYPE_CHECKING:
    from waddleperf.load.compare import Comparison
    from waddleperf.load.runner import LoadPlan
    from waddleperf.load.session import RunArtifacts, TargetSpec

app = typer.Typer(help="Load runs against the Django/Flask targets (Locust), with profiling.")

EXIT_REGRESSION = 1
EXIT_USAGE = 2

Profile = Annotated[
    str, typer.Option(help="light (10 users), medium (50), heavy (100), burst (200).")
]
Users = Annotated[int | None, typer.Option(help="Peak users (overrides the profile).")]
SpawnRate = Annotated[float | None, typer.Option(help="Users started per second.")]
Duration = Annotated[float | None, typer.Option(help="Run time in seconds.")]
UserKind = Annotated[
    str, typer.Option("--user", help="web (mixed), heavy, burst, database or endpoint (--path).")
]
PathOpt = Annotated[str, typer.Option("--path", help="The path the endpoint user requests.")]
ShapeOpt = Annotated[str, typer.Option(help="constant, ramp, step or spike.")]
Rate = Annotated[
    float | None, typer.Option(help="Open model: constant arrival rate, requests/s (CO-corrected).")
]
Wait = Annotated[str | None, typer.Option(help="Web user think time 'min,max' seconds.")]
Workers = Annotated[int, typer.Option(help="Local Locust worker processes (0: one process).")]
Out = Annotated[Path | None, typer.Option(help="Directory for result.json, NDJSON, PNGs, logs.")]
Plots = Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG plots.")]
StatsUrl = Annotated[str | None, typer.Option(help="A WaddlePerf server's /stats URL.")]
StatsTokenEnv = Annotated[
    str | None, typer.Option(help="Variable holding the /stats server's operator token.")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"waddleperf load: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


@dataclass(frozen=True)
class PlanOptions:
    """The options every load command takes: who the users are, how many and for how long.

    Its fields are declared here once and become options of each command decorated with
    :func:`_plan_options` (typer reads options from a signature, so they are spliced into it).
    """

    profile: Profile = "light"
    users: Users = None
    spawn_rate: SpawnRate = None
    duration: Duration = None
    user: UserKind = "web"
    shape: ShapeOpt = "constant"
    rate: Rate = None
    wait: Wait = None
    path: PathOpt = "/"
    workers: Workers = 0


DEFAULT_PLAN = PlanOptions()


def _plan_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` taking :class:`PlanOptions`' fields as options instead of its ``options``.

    The fields take the place (and the order) of ``options`` in the signature typer reads; the
    values typer passes for them are gathered back into one PlanOptions for ``command``.
    """
    names = [f.name for f in fields(PlanOptions)]
    shared_hints = get_type_hints(PlanOptions, include_extras=True)
    shared = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=f.default,
            annotation=shared_hints[f.name],
        )
        for f in fields(PlanOptions)
    ]
    hints = get_type_hints(command, include_extras=True)
    params: list[inspect.Parameter] = []
    for param in inspect.signature(command).parameters.values():
        if param.name == "options":
            params += shared
        else:
            params.append(param.replace(annotation=hints[param.name]))

    @functools.wraps(command)
    def with_plan(**kwargs: Any) -> None:
        options = PlanOptions(**{name: kwargs.pop(name) for name in names})
        command(options=options, **kwargs)

    signature = inspect.Signature(params, return_annotation=None)
    with_plan.__signature__ = signature  # type: ignore[attr-defined]
    with_plan.__annotations__ = {
        **{p.name: p.annotation for p in params},
        "return": hints.get("return"),
    }
    return with_plan


def _plan(host: str, options: PlanOptions, **extra: Any) -> LoadPlan:
    from waddleperf.load.profiles import SHAPES, resolve_profile
    from waddleperf.load.runner import LoadPlan

    if options.shape not in SHAPES:
        raise _fail(f"--shape must be one of {', '.join(SHAPES)}, got {options.shape!r}")
    try:
        bounds = None
        if options.wait:
            lo, _, hi = options.wait.partition(",")
            bounds = (float(lo), float(hi or lo))
        return LoadPlan(
            host=host,
            profile=resolve_profile(
                options.profile, options.users, options.spawn_rate, options.duration
            ),
            user=options.user,
            shape=options.shape,
            rate=options.rate,
            wait=bounds,
            workers=options.workers,
            path=options.path,
            **extra,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _progress_printer() -> Any:
    """Progress on screen: one rewritten line on a terminal, a line every 5 s otherwise."""
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(snap: dict[str, Any]) -> None:
        line = (
            f"  t={snap.get('elapsed_s', 0):>6}s users={snap.get('users', 0):>4} "
            f"req={snap.get('requests', 0):>8} fail={snap.get('failures', 0):>6} "
            f"rps={snap.get('current_rps', 0):>8} workers={snap.get('workers', 0)}"
        )
        if tty:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
        elif time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            typer.echo(line, err=True)

    return show


def _print_record(art: RunArtifacts, to_stderr: bool = False) -> None:
    from waddleperf.load.hdr import PERCENTILE_METRICS

    rec = art.record
    m = rec.metrics
    typer.echo("", err=True)
    typer.echo(
        f"{rec.kind} {rec.target}: {rec.status.value}" + (f" — {rec.error}" if rec.error else ""),
        err=to_stderr,
    )
    for key in (
        "requests_count",
        "throughput_rps",
        "error_rate_pct",
        "latency_avg_ms",
        *PERCENTILE_METRICS,
        "latency_max_ms",
        "target_cpu_avg_pct",
        "target_rss_max_mb",
        "generator_cpu_avg_pct",
    ):
        if key in m:
            typer.echo(f"  {key:<24} {m[key]}", err=to_stderr)
    typer.echo(f"  files in {art.directory}", err=to_stderr)


def _target(
    pid: list[int] | None,
    port: int | None,
    stats_url: str | None,
    stats_target: str,
    token_env: str | None = None,
) -> TargetSpec:
    from waddleperf.load.session import TargetSpec
    from waddleperf.profiling.sampler import stats_token

    try:
        stats_token(token_env)  # unset: a usage error now, not a run that samples nothing
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return TargetSpec(pids=tuple(pid or ()), port=port, stats_url=stats_url,
                      stats_name=stats_target, stats_token_env=token_env)  # fmt: skip


@app.command()
@_plan_options
def run(
    host: Annotated[
        str | None, typer.Option(help="Target base URL, e.g. http://127.0.0.1:8000")
    ] = None,
    options: PlanOptions = DEFAULT_PLAN,
    master: Annotated[
        bool, typer.Option("--master", help="Coordinate workers on other hosts.")
    ] = False,
    worker: Annotated[
        bool, typer.Option("--worker", help="Be a worker of a remote master.")
    ] = False,
    master_host: Annotated[
        str, typer.Option(help="The master's address (--worker).")
    ] = "127.0.0.1",
    master_port: Annotated[int, typer.Option(help="The master's port.")] = 5557,
    master_bind: Annotated[
        str, typer.Option(help="Address the master binds (--master).")
    ] = "127.0.0.1",
    expect_workers: Annotated[int, typer.Option(help="Workers a --master waits for.")] = 1,
    max_runtime: Annotated[
        float | None,
        typer.Option(help="Hard stop, seconds (default: duration + 75 s; 2 h for --worker)."),
    ] = None,
    target_pid: Annotated[list[int] | None, typer.Option(help="Profile this pid's tree.")] = None,
    target_port: Annotated[int | None, typer.Option(help="Profile whoever listens here.")] = None,
    stats_url: StatsUrl = None,
    stats_token_env: StatsTokenEnv = None,
    stats_target: Annotated[str, typer.Option(help="Target name in /stats.")] = "target",
    out: Out = None,
    plots: Plots = True,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="stdout: exactly the record as JSON; the table to stderr."),
    ] = False,
) -> None:
    """One load run; writes a load.locust record, k6 NDJSON profile and PNG plots."""
    extras.require("load run", "load")
    if master and worker:
        raise _fail("--master and --worker exclude each other")
    if not worker and not host:
        raise _fail("--host is required (except for --worker)")
    role = "master" if master else "worker" if worker else "local"
    plan = _plan(
        host or "http://127.0.0.1",
        options,
        role=role,
        master_host=master_host,
        master_port=master_port,
        master_bind=master_bind,
        expect_workers=expect_workers,
        max_runtime_s=max_runtime,
    )
    directory = out or Path(f"waddleperf-load-{time.strftime('%Y%m%dT%H%M%S')}")
    if worker:
        from waddleperf.load import runner

        outcome = runner.run(plan, runner.RunFiles(directory))
        raise typer.Exit(0 if outcome.returncodes.get("worker-0") == 0 else 1)
    from waddleperf.load.session import execute

    art = execute(
        plan,
        directory,
        _target(target_pid, target_port, stats_url, stats_target, stats_token_env),
        on_progress=_progress_printer(),
        plots=plots,
    )
    _print_record(art, to_stderr=as_json)
    if as_json:
        typer.echo(art.record.to_json())
    raise typer.Exit(0 if art.record.status.value != "failed" else 1)


def _print_comparison(cmp: Comparison, extra: dict[str, float | None]) -> None:
    typer.echo(f"\n{'metric':<28}{cmp.a_name:>14}{cmp.b_name:>14}{'B/A':>9}")
    for row in cmp.rows:
        a = "-" if row.a is None else f"{row.a:.3f}"
        b = "-" if row.b is None else f"{row.b:.3f}"
        ratio = "-" if row.ratio is None else f"{row.ratio:.3f}"
        typer.echo(f"{row.label:<28}{a:>14}{b:>14}{ratio:>9}")
    for key, value in extra.items():
        typer.echo(f"{key:<28}{'-' if value is None else value:>37}")
    if cmp.regressed:
        typer.echo("REGRESSION: " + "; ".join(cmp.regressions))
    else:
        typer.echo("no regression")


@app.command()
@_plan_options
def compare(
    b: Annotated[str, typer.Option("--b", help="Candidate target URL (B).")],
    a: Annotated[str | None, typer.Option("--a", help="Reference target URL (A).")] = None,
    baseline: Annotated[Path | None, typer.Option(help="A stored result.json as A.")] = None,
    a_name: Annotated[str, typer.Option(help="Label of A.")] = "A",
    b_name: Annotated[str, typer.Option(help="Label of B.")] = "B",
    a_port: Annotated[int | None, typer.Option(help="Profile A: listening port.")] = None,
    b_port: Annotated[int | None, typer.Option(help="Profile B: listening port.")] = None,
    a_pid: Annotated[list[int] | None, typer.Option(help="Profile A: pid tree.")] = None,
    b_pid: Annotated[list[int] | None, typer.Option(help="Profile B: pid tree.")] = None,
    stats_url: StatsUrl = None,
    stats_token_env: StatsTokenEnv = None,
    a_stats_target: Annotated[str, typer.Option(help="A's name in /stats.")] = "a",
    b_stats_target: Annotated[str, typer.Option(help="B's name in /stats.")] = "b",
    options: PlanOptions = DEFAULT_PLAN,
    rule: Annotated[
        list[str] | None, typer.Option(help="avg=1.1 p95=1.2 errors=2 throughput=0.9")
    ] = None,
    out: Out = None,
    plots: Plots = True,
) -> None:
    """Run one profile against A then B (or B against a baseline); exit 1 on regression."""
    extras.require("load compare", "load")
    from waddleperf.load.compare import Rules, overhead
    from waddleperf.load.compare import compare as compare_metrics
    from waddleperf.load.session import execute, load_record, save_json
    from waddleperf.profiling.plots import plot_comparison

    if (a is None) == (baseline is None):
        raise _fail("give exactly one of --a and --baseline")
    try:
        rules = Rules.parse(rule or [])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    directory = out or Path(f"waddleperf-compare-{time.strftime('%Y%m%dT%H%M%S')}")
    show = _progress_printer()
    curves: dict[str, list[dict[str, Any]]] = {}

    def load_side(url: str, part: str, target: TargetSpec, name: str) -> RunArtifacts:
        """One side's run, under ``directory/part``; its target's curve goes to the plot."""
        art = execute(_plan(url, options), directory / part, target, show, plots, name)
        curves[name] = [x for x in art.samples if x.get("source") == "target"]
        return art

    if baseline is not None:
        rec_a = load_record(baseline)
    else:
        assert a is not None
        target_a = _target(a_pid, a_port, stats_url, a_stats_target, stats_token_env)
        rec_a = load_side(a, "a", target_a, a_name).record
    target_b = _target(b_pid, b_port, stats_url, b_stats_target, stats_token_env)
    art_b = load_side(b, "b", target_b, b_name)
    result = compare_metrics(rec_a.metrics, art_b.record.metrics, rules, a_name, b_name)
    extra = overhead(rec_a.metrics, art_b.record.metrics)
    _print_comparison(result, extra)
    if plots and any(curves.values()):
        plot_comparison({k: v for k, v in curves.items() if v}, directory / "comparison.png")
    save_json(
        directory / "comparison.json",
        {
            "a": {"name": a_name, "run_id": rec_a.run_id, "target": rec_a.target},
            "b": {"name": b_name, "run_id": art_b.record.run_id, "target": art_b.record.target},
            "rows": [row.__dict__ for row in result.rows],
            "overhead": extra,
            "regressions": result.regressions,
            "rules": rules.__dict__,
        },
    )
    typer.echo(f"report in {directory / 'comparison.json'}")
    failed = [r for r in (rec_a, art_b.record) if r.status.value == "failed"]
    if failed:
        typer.echo("a run failed: " + "; ".join(str(r.error) for r in failed), err=True)
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_REGRESSION if result.regressed else 0)
