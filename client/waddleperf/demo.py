"""``waddleperf demo`` — what ``make run`` does: the whole job on loopback, on embedded defaults.

1. Starts the Flask target under gunicorn and ``waddleperf server`` (profiling the target's
   processes through ``/stats``), both on free loopback ports.
2. Probes each server service once (HTTP echo, LibreSpeed, TCP echo, UDP echo, ICMP, iperf3)
   and prints one table.
3. Runs one AutoPerf cycle (``waddleperf autoperf --once``) with the demo thresholds of
   ``waddleperf/vars/demo.yml``, which escalate through all three tiers; the bundle is stored
   locally under ``waddleperf-demo/`` and the agent prints what ran in each tier and why.
4. Stops everything — also when a step fails or the user presses Ctrl-C.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from waddleperf.autoperf.config import VARS_DIR
from waddleperf.localstack import (
    LocalProcess,
    LocalServer,
    start_server,
    start_target,
    waddleperf_command,
)
from waddleperf.output import STATUS_STYLE, format_value, split_metric
from waddleperf.probes.base import RunContext, UnknownProbeError, run_probe
from waddleperf.results.model import Result, Status, new_run_id, utc_now

#: Figures shown per probe kind, in this order (others stay in the JSON record).
HEADLINE: dict[str, tuple[str, ...]] = {
    "http": ("total_avg_ms", "ttfb_avg_ms", "connect_avg_ms"),
    "speedtest": ("download_throughput_mbps", "upload_throughput_mbps", "ping_ms", "jitter_ms"),
    "tcp": ("connect_avg_ms", "connect_max_ms", "loss_pct"),
    "udp": ("rtt_avg_ms", "jitter_ms", "loss_pct"),
    "icmp": ("rtt_avg_ms", "rtt_mdev_ms", "loss_pct"),
    "iperf": ("received_throughput_mbps", "sent_throughput_mbps", "retransmits_count"),
}


@dataclass(frozen=True)
class Step:
    """One probe of one service: the label shown, the probe kind and its options."""

    service: str
    kind: str
    options: Callable[[LocalServer], dict[str, Any]]


STEPS = (
    Step("HTTP echo", "http", lambda s: {"target": s.base_url + "/echo", "count": 5}),
    Step("LibreSpeed", "speedtest", lambda s: {"target": s.base_url + "/backend/"}),
    Step("TCP echo", "tcp", lambda s: {"target": s.host, "port": s.ports["tcp_echo"], "count": 5}),
    Step(
        "UDP echo",
        "udp",
        lambda s: {"target": s.host, "port": s.ports["udp_echo"], "count": 50, "interval_s": 0.01},
    ),
    Step("ICMP", "icmp", lambda s: {"target": s.host, "count": 5, "interval_s": 0.05}),
    Step("iperf3", "iperf", lambda s: {"target": s.host, "port": s.ports["iperf"]}),
)


def headline(result: Result, kind: str) -> str:
    """The few figures worth a glance, ``label value unit`` joined by commas."""
    wanted = HEADLINE.get(kind, ())
    names = [n for n in wanted if n in result.metrics] or list(result.metrics)[:3]
    parts = []
    for name in names:
        label, unit = split_metric(name)
        parts.append(f"{label} {format_value(result.metrics[name])} {unit}".rstrip())
    return ", ".join(parts)


def run_step(step: Step, server: LocalServer, context: RunContext) -> Result:
    """Run one step; a probe that is missing or raises becomes a failed record, not a crash."""
    options = step.options(server)
    try:
        return run_probe(step.kind, options, context)
    except (UnknownProbeError, ImportError, ValueError, OSError) as exc:
        now = utc_now()
        return Result(
            kind=f"probe.{step.kind}",
            target=str(options["target"]),
            started_at=now,
            finished_at=now,
            run_id=context.run_id or new_run_id(),
            status=Status.FAILED,
            error=f"the {step.kind} probe could not run: {exc}",
        )


def summary_table(rows: list[tuple[Step, Result]]) -> Table:
    """One row per service: status, headline figures, and the error when there is one."""
    table = Table(title="WaddlePerf demo — every server service probed once", title_justify="left")
    for column in ("service", "probe", "status", "figures", "error"):
        table.add_column(column, overflow="fold")
    for step, result in rows:
        table.add_row(
            step.service,
            step.kind,
            f"[{STATUS_STYLE[result.status]}]{result.status.value}[/]",
            headline(result, step.kind),
            result.error or "",
        )
    return table


#: The checkout that holds ``targets/`` (the demo serves the Flask target from it).
CHECKOUT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = VARS_DIR / "demo.yml"


def agent_config(server: LocalServer, target_url: str, out: Path) -> Path:
    """The demo AutoPerf config with this run's ports and target URL filled in."""
    doc = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    doc["servers"][0].update(host=server.host, ports=dict(server.ports))
    doc["targets"][0]["url"] = target_url
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out


def probe_services(server: LocalServer, err: Console) -> list[tuple[Step, Result]]:
    """One probe per service, in order; failures become failed records."""
    context = RunContext(run_id=new_run_id())
    rows: list[tuple[Step, Result]] = []
    for step in STEPS:
        with err.status(f"probing {step.service} ({step.kind})…"):
            rows.append((step, run_step(step, server, context)))
    return rows


def run_demo(console: Console | None = None) -> int:
    """Run the demo; 0 when every service answered and the AutoPerf cycle was stored."""
    out = console or Console()
    err = Console(stderr=True)
    started: list[LocalProcess] = []
    with tempfile.TemporaryDirectory(prefix="waddleperf-demo-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            with err.status("starting the Flask target (gunicorn) on loopback…"):
                target, target_url = start_target(
                    tmp / "target.log", "flask", CHECKOUT, tmp / "flask.sqlite3"
                )
                started.append(target)
            port = target_url.rsplit(":", 1)[1]
            server_yml = tmp / "server.yml"
            server_yml.write_text(f"stats:\n  targets: [{{name: flask, port: {port}}}]\n")
            with err.status("starting the WaddlePerf server on loopback…"):
                server = start_server(tmp / "server.log", extra_args=["--config", str(server_yml)])
                started.append(server)
            rows = probe_services(server, err)
            out.print(summary_table(rows))
            out.print("\n[bold]One AutoPerf cycle with the demo thresholds (tiers 1 → 3)[/]")
            argv = [*waddleperf_command(), "autoperf", "--once", "--config"]
            cfg = agent_config(server, target_url, tmp / "agent.yml")
            agent = subprocess.run([*argv, str(cfg)], check=False)
        finally:
            with err.status("stopping the server and the target…"):
                for proc in reversed(started):
                    proc.stop()
    services_ok = all(r.status is not Status.FAILED for _, r in rows)
    out.print(f"bundles stored under {Path.cwd() / 'waddleperf-demo'}")
    return 0 if services_ok and agent.returncode == 0 else 1
