"""The agent as ``waddleperf autoperf`` runs it: configuration checked, parts wired, cycles run.

The outer ring of the composition root (:class:`~waddleperf.autoperf.daemon.Agent` is the
inner one): :func:`load_checked` reads every configuration layer and checks each tier's
probes; :func:`build_agent` wires the bundle sink (its spool lock: one agent per directory)
and the notifier (escalations on the ``transition`` hook, its queue flushed on ``quitting``);
:func:`run_agent` runs the cycles and says whether every one was kept. A command line adds
only its signals and what it prints.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from waddleperf.autoperf import config as ap_config
from waddleperf.autoperf import plan
from waddleperf.autoperf.config import AutoPerfConfig
from waddleperf.autoperf.daemon import Agent, LoadRunner
from waddleperf.autoperf.events import Events, TransitionEvent
from waddleperf.autoperf.loadrun import run_load
from waddleperf.autoperf.notify import Notifier
from waddleperf.autoperf.sink import Sink
from waddleperf.autoperf.steps import ProbeRunner, call_probe
from waddleperf.autoperf.summary import CycleSummary
from waddleperf_common.config import ConfigError

#: run_agent's answers: every cycle kept; a cycle could not be written or a bundle was lost.
EXIT_OK, EXIT_WRITE = 0, 1
#: Seconds queued notifications may take to go out at exit (less when stopping on a signal).
FLUSH_S, FLUSH_STOP_S = 30.0, 1.0


def load_checked(
    config: Path | None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AutoPerfConfig:
    """The configuration from every layer with every tier's probes checked (:func:`plan.check`).

    Raises ConfigError naming each bad key and value, one per line.
    """
    cfg = ap_config.load(user_file=config, environ=environ, overrides=overrides)
    errors = plan.check(cfg)
    if errors:
        raise ConfigError("invalid configuration:\n" + "\n".join(errors))
    return cfg


def describe(cfg: AutoPerfConfig) -> str:
    """One line saying what a checked configuration will run."""
    tiers = "/".join(str(len(cfg.tiers.tier(n).probes)) for n in ap_config.TIERS)
    return (
        f"{len(cfg.servers)} server(s), {len(cfg.targets)} load target(s), "
        f"tier 1/2/3 probes {tiers}, every {cfg.tiers.interval_s:g} s"
    )


def notify_on(events: Events, notifier: Notifier) -> None:
    """Send each transition the notifier wants; flush its queue when the agent quits."""

    @events.transition.add_listener
    def _send(event: TransitionEvent) -> None:
        if notifier.wants(event.transition.escalation):
            notifier.submit(event.record.to_dict())

    @events.quitting.add_listener
    def _flush(stopped: bool) -> None:
        notifier.flush(FLUSH_STOP_S if stopped else FLUSH_S)


def build_agent(
    cfg: AutoPerfConfig,
    stop: threading.Event | None = None,
    sink: Sink | None = None,
    *,
    probe: ProbeRunner = call_probe,
    load: LoadRunner = run_load,
) -> Agent:
    """The agent of ``cfg``: bundles into the spool, uploaded to the configured store and
    geo-tagged (unless ``sink`` is given), escalations notified as configured; ``probe`` and
    ``load`` run the steps (the probe registry and the load child process by default).

    Raises SpoolLockedError when another agent holds the spool directory, ConfigError when
    the metrics address cannot be had.
    """
    if sink is None:
        from waddleperf.autoperf.bundles import BundleSink

        sink = BundleSink.from_config(cfg)
    events = Events()
    notify_on(events, Notifier(cfg.notify))
    agent = Agent(cfg, sink, stop=stop, events=events, probe=probe, load=load)
    if cfg.metrics.listen is not None:
        serve_metrics(agent, cfg.metrics.listen)
    return agent


def serve_metrics(agent: Agent, listen: str) -> None:
    """Export ``agent``'s cycles on ``listen`` (``metrics.listen``) until it quits.

    Raises ConfigError naming the address when it cannot be had (in use, not ours).
    """
    from waddleperf import __version__
    from waddleperf.autoperf.metrics.exporter import attach

    try:
        attach(agent.events, listen, agent.agent, __version__, agent.sink)
    except OSError as exc:
        agent.sink.close(drain=False)
        raise ConfigError(
            f"metrics.listen {listen!r}: cannot listen: {exc.strerror or exc}"
        ) from None


def run_agent(
    agent: Agent,
    on_summary: Callable[[CycleSummary], None],
    *,
    cycles: int | None = None,
    once: bool = False,
    force_tier: int | None = None,
) -> int:
    """Run ``agent``'s cycles (``Agent.run_forever``), then close it; EXIT_OK when every cycle
    was written and no bundle was lost, else EXIT_WRITE."""
    unwritten = 0

    def summary(done: CycleSummary) -> None:
        nonlocal unwritten
        unwritten += done.output is None
        on_summary(done)

    lost = 0
    try:
        agent.run_forever(summary, max_cycles=cycles, once=once, force_tier=force_tier)
    finally:
        lost = agent.close()
    return EXIT_WRITE if unwritten or lost else EXIT_OK
