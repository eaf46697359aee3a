"""``waddleperf autoperf``: the client as an unattended agent (tiered probes, load, events).

A thin command over ``waddleperf.autoperf.agent`` (configuration checked, agent wired, cycles
run): it adds the signals and what is printed. Only typer is imported here; the agent,
pydantic config and rich load inside the command. Exit codes: 0 done (also after
SIGTERM/SIGINT: the cycle is written), 1 a cycle could not be written, 2 bad configuration or
usage, 3 another agent holds the result directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from waddleperf import extras

if TYPE_CHECKING:
    from waddleperf.autoperf.daemon import Agent

EXIT_USAGE = 2
EXIT_LOCKED = 3


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    for line in message.splitlines():
        typer.echo(f"waddleperf autoperf: {line}", err=True)
    return typer.Exit(code)


def autoperf(
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML file over the defaults.")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle (escalating) and exit.")
    ] = False,
    force_tier: Annotated[
        int | None, typer.Option("--force-tier", help="Run tier N (1-3) once now, and exit.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Cycle summaries as JSON lines.")
    ] = False,
    cycles: Annotated[
        int | None, typer.Option("--cycles", min=1, help="Stop after this many cycles.")
    ] = None,
    interval: Annotated[float | None, typer.Option(help="Seconds between cycles.")] = None,
    agent_id: Annotated[str | None, typer.Option(help="This agent's id.")] = None,
    spool_dir: Annotated[Path | None, typer.Option(help="Spool directory (locked).")] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = None,
    metrics_listen: Annotated[
        str | None,
        typer.Option(
            "--metrics-listen",
            help="Serve Prometheus metrics on PORT or IP:PORT (loopback unless given).",
        ),
    ] = None,
    check_config: Annotated[
        bool,
        typer.Option("--check-config", help="Validate the configuration, probe nothing, exit."),
    ] = False,
) -> None:
    """Run tiered probes unattended: connectivity → diagnostics → load, on thresholds."""
    import logging
    import signal
    import threading

    from waddleperf.autoperf.agent import build_agent, describe, load_checked, run_agent
    from waddleperf.results.spool import SpoolLockedError
    from waddleperf_common.config import ConfigError

    if force_tier is not None and force_tier not in (1, 2, 3):
        raise _fail(f"--force-tier must be 1, 2 or 3, got {force_tier}")
    if once and force_tier is not None:
        raise _fail("--once and --force-tier exclude each other")
    overrides: dict[str, Any] = {
        "tiers.interval_s": interval,
        "agent.id": agent_id,
        "storage.spool_dir": str(spool_dir) if spool_dir else None,
        "log_level": log_level.upper() if log_level else None,
        "metrics.listen": metrics_listen,
    }
    try:
        cfg = load_checked(config, overrides)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if check_config:
        typer.echo(f"config OK: {describe(cfg)}")
        raise typer.Exit(0)
    if cfg.targets and cfg.tiers.tier3.load:  # tier 3 would run Locust against them
        extras.require("autoperf (tier-3 load of targets)", "load")
    logging.basicConfig(
        level=cfg.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    try:
        agent = build_agent(cfg, stop)
    except SpoolLockedError as exc:
        raise _fail(str(exc), EXIT_LOCKED) from None
    except ConfigError as exc:
        raise _fail(str(exc)) from None

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("waddleperf.autoperf").warning(
            "%s: finishing the current step and writing the cycle", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    show = _display(agent, json_out)
    raise typer.Exit(run_agent(agent, show, cycles=cycles, once=once, force_tier=force_tier))


def _display(agent: Agent, json_out: bool) -> Any:
    """Progress lines on stderr; each cycle's summary on stdout (a table, or a JSON line)."""
    import json

    from rich.console import Console

    from waddleperf.autoperf.summary import CycleSummary, render

    err, out = Console(stderr=True), Console(soft_wrap=False)
    agent.events.step.add_listener(
        lambda line: err.print(f"[dim]autoperf[/] {line}", highlight=False)
    )
    tiers = agent.cfg.tiers
    every = f"every {tiers.interval_s:g} s ± {tiers.jitter_pct:g} %"
    err.print(f"[dim]autoperf[/] agent {agent.agent}: {len(agent.cfg.servers)} server(s), {every}")

    def show(summary: CycleSummary) -> None:
        if json_out:
            typer.echo(json.dumps(summary.to_dict()))
        else:
            out.print(render(summary))

    return show
