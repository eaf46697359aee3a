"""What ``waddleperf demo`` measures, with the agent's own parts.

Every service of one server probed once: the agent's plan aims each probe at the server
(:func:`plan.plan_tier`), its step runner runs them (a probe that is missing or raises is a
failed record, not a crash) and its summary makes the lines and the table. Then the demo
configuration for one agent cycle through all three tiers: ``vars/demo.yml`` with this run's
server ports and target URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from waddleperf.autoperf.config import VARS_DIR, ProbeSpec, ServerTarget
from waddleperf.autoperf.plan import plan_tier
from waddleperf.autoperf.steps import StepOutcome, StepRunner, call_probe
from waddleperf.autoperf.summary import StepLine, step_line
from waddleperf.probes.base import RunContext
from waddleperf.results.model import new_run_id

#: One probe per server service, labelled as the demo's table shows it; each is aimed at the
#: server by the agent's plan (HTTP echo at /echo, LibreSpeed at /backend/, the echo ports…).
SERVICES: tuple[ProbeSpec, ...] = (
    ProbeSpec(probe="http", label="HTTP echo", options={"count": 5}),
    ProbeSpec(probe="speedtest", label="LibreSpeed"),
    ProbeSpec(probe="tcp", label="TCP echo", options={"count": 5}),
    ProbeSpec(probe="udp", label="UDP echo", options={"count": 50, "interval_s": 0.01}),
    ProbeSpec(probe="icmp", label="ICMP", options={"count": 5, "interval_s": 0.05}),
    ProbeSpec(probe="iperf", label="iperf3"),
)
#: Seconds the services' probes may take together (each has its own timeouts well below).
SERVICES_TIMEOUT_S = 240.0
#: The lines' tier column: the services are checked as a connectivity (tier-1) round would.
TIER = 1
DEMO_CONFIG = VARS_DIR / "demo.yml"
#: The checkout that holds ``targets/`` when run from one (the demo serves the Flask target).
CHECKOUT = Path(__file__).resolve().parents[3]


def local_server(host: str, ports: Mapping[str, int]) -> ServerTarget:
    """The server the demo started, as the agent's configuration names a server."""
    return ServerTarget.model_validate({"name": "local", "host": host, "ports": dict(ports)})


def probe_services(
    server: ServerTarget,
    on_step: Callable[[StepOutcome], None] | None = None,
    stop: threading.Event | None = None,
) -> list[StepLine]:
    """Each of :data:`SERVICES` run once against ``server``, in order; a line each.

    A service the server does not offer (its port 0) is a ``skipped`` line saying why.
    """
    steps, skipped = plan_tier(server, TIER, SERVICES)
    context = RunContext(run_id=new_run_id())
    runner = StepRunner(stop or threading.Event(), lambda _step: context, call_probe, on_step)
    done = {o.step.name: o for o in runner.run(steps, parallel=False, timeout_s=SERVICES_TIMEOUT_S)}
    lines: list[StepLine] = []
    for spec in SERVICES:
        if spec.name in done:
            lines.append(step_line(server.label, spec.name, done[spec.name].result))
        else:
            why = next(s.reason for s in skipped if s.name == spec.name)
            lines.append(StepLine(server.label, TIER, spec.name, "skipped", "", why, spec.probe))
    return lines


def agent_config(host: str, ports: Mapping[str, int], target_url: str, out: Path) -> Path:
    """The demo agent configuration with this run's server ports and target URL, at ``out``."""
    doc = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    doc["servers"][0].update(host=host, ports=dict(ports))
    doc["targets"][0]["url"] = target_url
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out
