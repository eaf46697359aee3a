"""``waddleperf load``: tier-3 load runs with Locust, profiling, comparison and regression.

Thin commands over ``waddleperf.load``: the plan flags (``--profile``, ``--users``, …) are
generated from the plan's one model (``load.plan.LoadOptions``, through ``cli/probe_flags``'s
rules) when a command is parsed or asked for help, so listing commands imports no pydantic;
one run is ``load.session.execute``, an A/B comparison ``load.session.execute_comparison``.
Locust always runs in processes of its own.

Exit codes: ``run`` 0 done, 1 the run failed; ``compare`` 0 no regression, 1 regression,
2 a run failed; 2 bad usage (one line, no record).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from waddleperf import extras

if TYPE_CHECKING:
    from typer._click import Context, Parameter

    from waddleperf.load.plan import LoadOptions
    from waddleperf.load.session import RunArtifacts, TargetSpec

app = typer.Typer(help="Load runs against the Django/Flask targets (Locust), with profiling.")

EXIT_REGRESSION = 1
EXIT_USAGE = 2
#: Where a command's raw plan flag values wait for :func:`_options` (``ctx.meta``).
PLAN_KEY = "waddleperf.load.plan"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"waddleperf load: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _plan_parameters() -> list[Parameter]:
    """The plan flags as click parameters, each a text value the model validates."""
    import inspect

    from waddleperf.cli.probe_flags import flags_of
    from waddleperf.load.plan import LoadOptions

    def flag(field: str, name: str, metavar: str, text: str) -> inspect.Parameter:
        option = typer.Option(name, help=text, metavar=metavar, show_default=False)
        kind = inspect.Parameter.KEYWORD_ONLY
        return inspect.Parameter(
            field, kind, annotation=Annotated[str | None, option], default=None
        )

    def plan(**_: str | None) -> None:
        """The plan flags."""

    params = [flag(f.field, f.name, f.metavar, f.help) for f in flags_of(LoadOptions)]
    plan.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    holder = typer.Typer(add_completion=False)
    holder.command()(plan)
    return list(typer.main.get_command(holder).params)


class PlanCommand(TyperCommand):
    """A load command that takes the plan flags besides its own options.

    The flags are built on first use (parsing or help), after the command's own options; their
    values reach the command as :func:`_options` (validated by the plan model), not as arguments.
    """

    _plan: list[Parameter] | None = None

    def get_params(self, ctx: Context) -> list[Parameter]:
        """The command's own options, the plan flags, then ``--help``."""
        if PlanCommand._plan is None:
            PlanCommand._plan = _plan_parameters()
        own = super().get_params(ctx)
        help_option = self.get_help_option(ctx)
        rest = [p for p in own if p is not help_option]
        return [*rest, *PlanCommand._plan, *([help_option] if help_option else [])]

    def invoke(self, ctx: Context) -> Any:
        """Hand the plan flags' values over in ``ctx.meta``, the command's own as arguments."""
        names = {p.name for p in PlanCommand._plan or ()}
        ctx.meta[PLAN_KEY] = {k: ctx.params.pop(k) for k in list(ctx.params) if k in names}
        return super().invoke(ctx)


def _options(ctx: typer.Context) -> LoadOptions:
    """The plan the flags describe; bad values exit 2 with one line each, naming the flag."""
    from pydantic import ValidationError

    from waddleperf.cli.probe_flags import flags_of, usage_errors
    from waddleperf.load.plan import LoadOptions

    given = {k: v for k, v in ctx.meta.get(PLAN_KEY, {}).items() if v is not None}
    try:
        return LoadOptions.model_validate(given)
    except ValidationError as exc:
        spelled = {f.field: f.name for f in flags_of(LoadOptions)}
        for line in dict.fromkeys(usage_errors("load", exc, spelled)):  # once each
            typer.echo(f"waddleperf load: {line}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _progress_printer() -> Any:
    """Progress on screen: one rewritten line on a terminal, a line every 5 s otherwise."""
    from waddleperf.load.text import progress_line

    tty = sys.stderr.isatty()
    last = [0.0]

    def show(snap: dict[str, Any]) -> None:
        line = progress_line(snap)
        if tty:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
        elif time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            typer.echo(line, err=True)

    return show


def _print_record(art: RunArtifacts, to_stderr: bool = False) -> None:
    from waddleperf.load.text import record_lines

    typer.echo("", err=True)
    for line in record_lines(art.record, art.directory):
        typer.echo(line, err=to_stderr)


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


Out = Annotated[Path | None, typer.Option(help="Directory for result.json, NDJSON, PNGs, logs.")]
Plots = Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG plots.")]
StatsUrl = Annotated[str | None, typer.Option(help="A WaddlePerf server's /stats URL.")]
StatsTokenEnv = Annotated[
    str | None, typer.Option(help="Variable holding the /stats server's operator token.")
]


@app.command(cls=PlanCommand)
def run(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Target base URL, e.g. http://127.0.0.1:8000")
    ] = None,
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
    from waddleperf.load import runner

    plan = runner.LoadPlan(
        host or "http://127.0.0.1",
        _options(ctx),
        role="master" if master else "worker" if worker else "local",
        master_host=master_host,
        master_port=master_port,
        master_bind=master_bind,
        expect_workers=expect_workers,
        max_runtime_s=max_runtime,
    )
    directory = out or Path(f"waddleperf-load-{time.strftime('%Y%m%dT%H%M%S')}")
    if worker:
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
    from waddleperf.load.result import exit_code

    raise typer.Exit(exit_code(art.record))


@app.command(cls=PlanCommand)
def compare(
    ctx: typer.Context,
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
    rule: Annotated[
        list[str] | None, typer.Option(help="avg=1.1 p95=1.2 errors=2 throughput=0.9")
    ] = None,
    out: Out = None,
    plots: Plots = True,
) -> None:
    """Run one profile against A then B (or B against a baseline); exit 1 on regression."""
    extras.require("load compare", "load")
    from waddleperf.load.compare import Rules, table_lines
    from waddleperf.load.session import Side, execute_comparison

    if (a is None) == (baseline is None):
        raise _fail("give exactly one of --a and --baseline")
    try:
        rules = Rules.parse(rule or [])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    options = _options(ctx)
    side_a = Side(
        a_name, a, _target(a_pid, a_port, stats_url, a_stats_target, stats_token_env), baseline
    )
    side_b = Side(b_name, b, _target(b_pid, b_port, stats_url, b_stats_target, stats_token_env))
    directory = out or Path(f"waddleperf-compare-{time.strftime('%Y%m%dT%H%M%S')}")
    done = execute_comparison(options, side_a, side_b, rules, directory, _progress_printer(), plots)
    typer.echo("")
    for line in table_lines(done.comparison, done.overhead):
        typer.echo(line)
    typer.echo(f"report in {done.report}")
    if done.failed:
        typer.echo("a run failed: " + "; ".join(str(r.error) for r in done.failed), err=True)
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_REGRESSION if done.comparison.regressed else 0)
