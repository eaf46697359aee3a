"""``waddleperf demo`` — what ``make run`` does: the whole job on loopback, on embedded defaults.

1. Starts the Flask target under gunicorn and ``waddleperf server`` (profiling the target's
   processes through ``/stats``), both on free loopback ports (``waddleperf.localstack``).
2. Probes each server service once (HTTP echo, LibreSpeed, TCP echo, UDP echo, ICMP, iperf3)
   with the agent's plan and step runner, and prints one table (``autoperf.demo``).
3. Runs one AutoPerf cycle (``waddleperf autoperf --once``) with the demo thresholds of
   ``waddleperf/vars/demo.yml``, which escalate through all three tiers; the bundle is stored
   locally under ``waddleperf-demo/`` and the agent prints what ran in each tier and why.
4. Stops everything — also when a step fails or the user presses Ctrl-C.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from waddleperf import extras

if TYPE_CHECKING:
    from rich.console import Console

EXIT_USAGE = 2
TITLE = "WaddlePerf demo — every server service probed once"


def demo() -> None:
    """The main job on loopback: target + server, each service probed, one AutoPerf cycle."""
    extras.require("demo", "server", "load", "targets")
    from waddleperf.autoperf.demo import CHECKOUT

    if not (CHECKOUT / "targets" / "serve.py").is_file():
        typer.echo(
            "waddleperf demo: serves targets/ from a WaddlePerf checkout: run it there", err=True
        )
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(run_demo())


def run_demo(console: Console | None = None) -> int:
    """Run the demo; 0 when every service answered and the AutoPerf cycle was stored."""
    import subprocess
    import tempfile

    from rich.console import Console

    from waddleperf.autoperf import demo as parts
    from waddleperf.autoperf.steps import StepOutcome
    from waddleperf.autoperf.summary import steps_table
    from waddleperf.localstack import LocalProcess, start_server, start_target, waddleperf_command

    out = console or Console()
    err = Console(stderr=True)
    started: list[LocalProcess] = []
    with tempfile.TemporaryDirectory(prefix="waddleperf-demo-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            with err.status("starting the Flask target (gunicorn) on loopback…"):
                target, target_url = start_target(
                    tmp / "target.log", "flask", parts.CHECKOUT, tmp / "flask.sqlite3"
                )
                started.append(target)
            port = target_url.rsplit(":", 1)[1]
            server_yml = tmp / "server.yml"
            server_yml.write_text(f"stats:\n  targets: [{{name: flask, port: {port}}}]\n")
            with err.status("starting the WaddlePerf server on loopback…"):
                server = start_server(tmp / "server.log", extra_args=["--config", str(server_yml)])
                started.append(server)
            with err.status("probing the server's services…") as status:

                def probed(outcome: StepOutcome) -> None:
                    status.update(f"probing the server's services… {outcome.step.name} done")

                lines = parts.probe_services(parts.local_server(server.host, server.ports), probed)
            out.print(steps_table(TITLE, lines))
            out.print("\n[bold]One AutoPerf cycle with the demo thresholds (tiers 1 → 3)[/]")
            cfg = parts.agent_config(server.host, server.ports, target_url, tmp / "agent.yml")
            argv = [*waddleperf_command(), "autoperf", "--once", "--config", str(cfg)]
            agent = subprocess.run(argv, check=False)
        finally:
            with err.status("stopping the server and the target…"):
                for proc in reversed(started):
                    proc.stop()
    services_ok = all(line.status in ("ok", "degraded") for line in lines)
    out.print(f"bundles stored under {Path.cwd() / 'waddleperf-demo'}")
    return 0 if services_ok and agent.returncode == 0 else 1
