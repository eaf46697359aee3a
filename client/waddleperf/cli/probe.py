"""``waddleperf probe KIND TARGET [options]``: run one probe, print a table or the JSON record.

Each kind is a subcommand whose flags are generated from the probe's options model
(``cli/probe_flags.py``), built only when that kind is asked for: listing the kinds reads
their summaries without importing them, so ``probe --help`` loads no paramiko or scapy.

Exit codes: 0 when the measurement succeeded (status ok, or degraded — some loss, some failed
attempts: the figures are real), 1 when the target could not be measured (status failed),
2 for bad usage (unknown kind, invalid target or options; no record is printed).

On a terminal (and without ``--json``, ``--pretty`` or ``--quiet``) every reply, hop or
interval is printed as it happens, as ping and mtr do. Ctrl-C stops the probe: the summary of
what it measured is printed (the record, with ``--json``) with status ``interrupted``, and the
command exits 130.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from typer._click import exceptions as click_exceptions  # typer vendors click; not re-exported
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from typer._click import Context, HelpFormatter

    from waddleperf.cli.probe_flags import Flag
    from waddleperf.probes.base import Probe
    from waddleperf.results.model import Result

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class ProbeUsageError(click_exceptions.UsageError):
    """Bad usage of a probe command, shown as one line: ``waddleperf probe KIND: problem``."""

    def __init__(self, lines: list[str], kind: str | None = None) -> None:
        super().__init__("; ".join(lines))
        self.lines, self.kind = lines, kind

    def show(self, file: Any = None) -> None:
        """One line per problem on stderr, no usage block."""
        prefix = f"waddleperf probe {self.kind}" if self.kind else "waddleperf probe"
        for line in self.lines:
            typer.echo(f"{prefix}: {line}", err=True)


def _one_line(exc: click_exceptions.UsageError, kind: str | None) -> str:
    if isinstance(exc, click_exceptions.NoSuchOption) and kind:
        # Usually another kind's flag (--type on icmp); click's close matches help a typo.
        close = sorted(exc.possibilities or ())
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return f"{exc.option_name} does not apply to probe {kind}{hint}"
    return " ".join(exc.format_message().split()).rstrip(".")


class KindCommand(TyperCommand):
    """A probe kind's command: parse errors become one line, exit 2."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        """Click's parsing, with its errors in the one-line form."""
        try:
            return super().parse_args(ctx, args)
        except ProbeUsageError:
            raise
        except click_exceptions.UsageError as exc:
            raise ProbeUsageError([_one_line(exc, self.name)], self.name) from None


class ProbeGroup(TyperGroup):
    """The kinds as subcommands, each built from its options model when it is asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        """Every probe kind."""
        from waddleperf.probes.base import names

        return names()

    def get_command(self, ctx: Context, cmd_name: str) -> KindCommand | None:
        """The command of kind ``cmd_name`` (imports that probe only), or None."""
        from waddleperf.probes.base import UnknownProbeError, get

        try:
            return kind_command(get(cmd_name))
        except UnknownProbeError:
            return None

    def resolve_command(self, ctx: Context, args: list[str]) -> Any:
        """An unknown kind is one line naming the known ones."""
        from waddleperf.probes.base import UnknownProbeError

        command = self.get_command(ctx, args[0])
        if command is None:
            raise ProbeUsageError([str(UnknownProbeError(args[0]))])
        return args[0], command, args[1:]

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """Every kind with its summary, in full, without importing any probe."""
        from waddleperf.probes.base import names, summary_of

        with formatter.section("Kinds (waddleperf probe KIND --help for its options)"):
            formatter.write_dl([(name, summary_of(name)) for name in names()])


app = typer.Typer(
    cls=ProbeGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _probe() -> None:
    """Run one probe against TARGET and print the result (exit 0 ok/degraded, 1 failed, 2 usage)."""


def _parameters(probe: Probe[Any], flags: list[Flag]) -> list[inspect.Parameter]:
    """The kind's parameters as typer reads them: TARGET, the model's flags, output flags."""
    from waddleperf.cli.probe_flags import FAMILY_FLAGS, has_family

    model = probe.options_model
    target_help = model.model_fields["target"].description or "What to probe."
    kw = inspect.Parameter.KEYWORD_ONLY

    def param(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
        return inspect.Parameter(name, kw, annotation=annotation, default=default)

    params = [
        inspect.Parameter(
            "target",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=Annotated[str, typer.Argument(metavar="TARGET", help=target_help)],
        )
    ]
    for flag in flags:
        option = typer.Option(flag.name, help=flag.help, metavar=flag.metavar, show_default=False)
        if flag.kind == "switch":
            params.append(param(flag.field, Annotated[bool, option], False))
        elif flag.kind == "repeatable":
            params.append(param(flag.field, Annotated[list[str] | None, option]))
        else:
            params.append(param(flag.field, Annotated[str | None, option]))
    if has_family(model):
        for family, family_decls in FAMILY_FLAGS.items():
            switch = typer.Option(*family_decls, help=f"{family[:2].upper()}{family[2:]} only.")
            params.append(param(f"_{family}", Annotated[bool, switch], False))
    output_flags: dict[str, tuple[tuple[str, ...], str]] = {
        "_option": (("--option", "-o"), "Any option of the probe as NAME=VALUE (model field)."),
        "_json": (("--json",), "Print the record as JSON on one line (NDJSON), nothing else."),
        "_pretty": (("--pretty",), "Print the record as indented JSON."),
        "_quiet": (("--quiet", "-q"), "No live lines or progress: only the summary."),
    }
    for name, (decls, text) in output_flags.items():
        if name == "_option":
            option = typer.Option(*decls, help=text, metavar="NAME=VALUE", show_default=False)
            params.append(param(name, Annotated[list[str] | None, option]))
        else:
            params.append(param(name, Annotated[bool, typer.Option(*decls, help=text)], False))
    return params


def kind_command(probe: Probe[Any]) -> KindCommand:
    """The ``waddleperf probe KIND`` command of ``probe``, its flags from the options model."""
    from waddleperf.cli.probe_flags import flags_of, option_of

    flags = flags_of(probe.options_model)
    spelled = option_of(flags)

    def run(target: str, **values: Any) -> None:
        given = {f.field: values.get(f.field) for f in flags}
        run_kind(
            probe,
            target,
            given,
            spelled,
            ipv4=bool(values.get("_ipv4")),
            ipv6=bool(values.get("_ipv6")),
            extra=values.get("_option") or [],
            as_json=bool(values["_json"]),
            pretty=bool(values["_pretty"]),
            quiet=bool(values["_quiet"]),
        )

    run.__signature__ = inspect.Signature(_parameters(probe, flags))  # type: ignore[attr-defined]
    run.__doc__ = probe.summary
    kind_app = typer.Typer(rich_markup_mode=None, add_completion=False)
    kind_app.command(name=probe.name, cls=KindCommand)(run)
    command = typer.main.get_command(kind_app)
    assert isinstance(command, KindCommand)
    return command


def _measure(probe: Probe[Any], options: Any, show: Literal["live", "bar", "none"]) -> Result:
    """Run the probe with partial results on Ctrl-C; live lines on stdout, or a progress bar
    on stderr, or nothing. A probe that keeps nothing from an interrupted run still gives a
    record saying so."""
    from waddleperf.probes.base import Recording, RunContext

    fallback = Recording(probe.kind, options, None)  # started now, like the probe's own
    try:
        if show == "live":
            from waddleperf import output
            from waddleperf.live import LiveLines, LivePrinter

            lines = LiveLines(probe.kind, options.target, output.use_color(sys.stdout))
            printer = LivePrinter(lines, sys.stdout)
            try:
                return probe.run(options, RunContext(events=printer, partial_on_interrupt=True))
            finally:
                if printer.printed:
                    print()  # the summary apart from the live lines, as ping's statistics are
        if show == "bar":
            return _run_with_bar(probe, options)
        return probe.run(options, RunContext(partial_on_interrupt=True))
    except KeyboardInterrupt:
        from waddleperf.results.model import Status

        why = "Interrupted (Ctrl-C, SIGINT) before the probe finished: it keeps no partial figures"
        return fallback.finish(status=Status.INTERRUPTED, error=why)


def _run_with_bar(probe: Probe[Any], options: Any) -> Result:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from waddleperf.probes.base import RunContext

    columns = (f"probe {probe.name}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(probe.name, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return probe.run(options, RunContext(progress=update, partial_on_interrupt=True))


def show_mode(
    *, stdout_tty: bool, stderr_tty: bool, as_json: bool, pretty: bool, quiet: bool
) -> Literal["live", "bar", "none"]:
    """What the command shows while it measures: live lines on a terminal, a progress bar on
    stderr when only stderr is one, nothing for JSON or ``--quiet``."""
    if quiet or as_json or pretty:
        return "none"
    if stdout_tty:
        return "live"
    return "bar" if stderr_tty else "none"


def run_kind(
    probe: Probe[Any],
    target: str,
    given: dict[str, Any],
    spelled: dict[str, str],
    *,
    ipv4: bool,
    ipv6: bool,
    extra: list[str],
    as_json: bool,
    pretty: bool,
    quiet: bool = False,
) -> None:
    """Validate, run once, print; exits with the probe's exit code."""
    from pydantic import ValidationError

    from waddleperf.cli.probe_flags import raw_options, usage_errors
    from waddleperf.results.model import Status

    try:
        raw = raw_options(target, given, ipv4=ipv4, ipv6=ipv6, extra=extra)
        options = probe.options(raw)
    except ValidationError as exc:
        raise ProbeUsageError(usage_errors(probe.name, exc, spelled), probe.name) from None
    except ValueError as exc:
        raise ProbeUsageError([str(exc)], probe.name) from None
    show = show_mode(
        stdout_tty=sys.stdout.isatty(), stderr_tty=sys.stderr.isatty(),
        as_json=as_json, pretty=pretty, quiet=quiet,
    )  # fmt: skip
    try:
        result = _measure(probe, options, show)
    except Exception as exc:  # a probe must not raise; if one does, a sentence, not a traceback
        typer.echo(f"waddleperf probe {probe.name}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    if as_json or pretty:
        print(result.to_json(indent=2 if pretty else None), flush=True)
    else:
        from waddleperf import output

        output.print_result(result)
    if result.status is Status.INTERRUPTED:
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_FAILED if result.status is Status.FAILED else EXIT_OK)
