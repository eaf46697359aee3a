"""``waddleperf autoperf``: the client as an unattended agent (tiered probes, load, events).

Only typer is imported here; the agent, pydantic config and rich load inside the command.
Exit codes: 0 done (also after SIGTERM/SIGINT: the cycle is written), 1 a cycle could not be
written, 2 bad configuration or usage, 3 another agent holds the result directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from waddleperf import extras

if TYPE_CHECKING:
    from waddleperf.autoperf.config import AutoPerfConfig
    from waddleperf.autoperf.sink import Sink

EXIT_WRITE = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
#: Seconds to let queued notifications go out at exit (less when stopping on a signal).
FLUSH_S, FLUSH_STOP_S = 30.0, 1.0


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    for line in message.splitlines():
        typer.echo(f"waddleperf autoperf: {line}", err=True)
    return typer.Exit(code)


def load_checked(config: Path | None, overrides: dict[str, Any]) -> AutoPerfConfig:
    """The configuration from every layer with every tier's probes checked (plan.check);
    raises typer.Exit(2) naming each bad key and value."""
    from waddleperf.autoperf import config as ap_config
    from waddleperf.autoperf import plan
    from waddleperf_common.config import ConfigError

    try:
        cfg = ap_config.load(user_file=config, overrides=overrides)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    errors = plan.check(cfg)
    if errors:
        raise _fail("invalid configuration:\n" + "\n".join(errors))
    return cfg


def describe(cfg: AutoPerfConfig) -> str:
    """One line saying what a checked configuration will run."""
    tiers = "/".join(str(len(cfg.tiers.tier(n).probes)) for n in (1, 2, 3))
    return (
        f"{len(cfg.servers)} server(s), {len(cfg.targets)} load target(s), "
        f"tier 1/2/3 probes {tiers}, every {cfg.tiers.interval_s:g} s"
    )


def make_sink(cfg: AutoPerfConfig) -> Sink:
    """Bundles into the spool, uploaded to the configured store, geo-tagged."""
    from waddleperf.autoperf.bundles import BundleSink

    return BundleSink.from_config(cfg)


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
    check_config: Annotated[
        bool,
        typer.Option("--check-config", help="Validate the configuration, probe nothing, exit."),
    ] = False,
) -> None:
    """Run tiered probes unattended: connectivity → diagnostics → load, on thresholds."""
    import logging
    import signal
    import threading

    from waddleperf.results.spool import SpoolLockedError

    if force_tier is not None and force_tier not in (1, 2, 3):
        raise _fail(f"--force-tier must be 1, 2 or 3, got {force_tier}")
    if once and force_tier is not None:
        raise _fail("--once and --force-tier exclude each other")
    overrides: dict[str, Any] = {
        "tiers.interval_s": interval,
        "agent.id": agent_id,
        "storage.spool_dir": str(spool_dir) if spool_dir else None,
        "log_level": log_level.upper() if log_level else None,
    }
    cfg = load_checked(config, overrides)
    if check_config:
        typer.echo(f"config OK: {describe(cfg)}")
        raise typer.Exit(0)
    if cfg.targets and cfg.tiers.tier3.load:  # tier 3 would run Locust against them
        extras.require("autoperf (tier-3 load of targets)", "load")
    logging.basicConfig(
        level=cfg.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        # the spool's flock is the agent's: one agent per result directory
        sink = make_sink(cfg)
    except SpoolLockedError as exc:
        raise _fail(str(exc), EXIT_LOCKED) from None
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("waddleperf.autoperf").warning(
            "%s: finishing the current step and writing the cycle", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    raise typer.Exit(_run(cfg, sink, stop, once, force_tier, json_out, cycles))


def _run(
    cfg: AutoPerfConfig,
    sink: Sink,
    stop: Any,
    once: bool,
    force_tier: int | None,
    json_out: bool,
    cycles: int | None,
) -> int:
    import json

    from rich.console import Console

    from waddleperf.autoperf.daemon import Agent
    from waddleperf.autoperf.events import Events, TransitionEvent
    from waddleperf.autoperf.notify import Notifier
    from waddleperf.autoperf.summary import CycleSummary, render

    err, out = Console(stderr=True), Console(soft_wrap=False)
    events = Events()
    notifier = Notifier(cfg.notify)
    events.step.add_listener(lambda line: err.print(f"[dim]autoperf[/] {line}", highlight=False))

    @events.transition.add_listener
    def _notify(event: TransitionEvent) -> None:
        if notifier.wants(event.transition.escalation):
            notifier.submit(event.record.to_dict())

    unwritten = 0

    def show(summary: CycleSummary) -> None:
        nonlocal unwritten
        unwritten += summary.output is None
        if json_out:
            typer.echo(json.dumps(summary.to_dict()))
        else:
            out.print(render(summary))

    agent = Agent(cfg, sink, stop=stop, events=events)
    every = f"every {cfg.tiers.interval_s:g} s ± {cfg.tiers.jitter_pct:g} %"
    err.print(f"[dim]autoperf[/] agent {agent.agent}: {len(cfg.servers)} server(s), {every}")
    lost = 0
    try:
        agent.run_forever(show, max_cycles=cycles, once=once, force_tier=force_tier)
    finally:
        notifier.flush(FLUSH_STOP_S if stop.is_set() else FLUSH_S)
        lost = sink.close(drain=not stop.is_set())
    return EXIT_WRITE if unwritten or lost else 0
