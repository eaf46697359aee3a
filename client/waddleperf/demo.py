"""``waddleperf demo`` — what ``make run`` does: a server on loopback, every service probed once.

Starts ``waddleperf server`` on free loopback ports, runs one probe per service (HTTP echo,
LibreSpeed download/upload/ping, TCP echo, UDP echo, ICMP, iperf3), prints one table, and
stops the server — also when a probe fails or the user presses Ctrl-C.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from waddleperf.localstack import LocalServer, start_server
from waddleperf.output import STATUS_STYLE, format_value, split_metric
from waddleperf.probes.base import RunContext, UnknownProbeError, run_probe
from waddleperf.results.model import Result, Status, new_run_id, utc_now

#: Figures shown per probe kind, in this order (others stay in the JSON record).
HEADLINE: dict[str, tuple[str, ...]] = {
    "http": ("total_avg_ms", "ttfb_avg_ms", "connect_avg_ms"),
    "speedtest": ("download_mbps", "upload_mbps", "ping_ms", "jitter_ms"),
    "tcp": ("connect_avg_ms", "connect_max_ms", "loss_pct"),
    "udp": ("rtt_avg_ms", "jitter_ms", "loss_pct"),
    "icmp": ("rtt_avg_ms", "rtt_mdev_ms", "loss_pct"),
    "iperf": ("received_mbps", "sent_mbps", "retransmits_count"),
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


def run_demo(console: Console | None = None) -> int:
    """Run the demo; 0 when every service answered, 1 otherwise."""
    out = console or Console()
    err = Console(stderr=True)
    context = RunContext(run_id=new_run_id())
    rows: list[tuple[Step, Result]] = []
    with tempfile.TemporaryDirectory(prefix="waddleperf-demo-") as tmp:
        log = Path(tmp) / "server.log"
        with err.status("starting the server on loopback…"):
            server = start_server(log)
        try:
            for step in STEPS:
                with err.status(f"probing {step.service} ({step.kind})…"):
                    rows.append((step, run_step(step, server, context)))
        finally:
            with err.status("stopping the server…"):
                code = server.stop()
        out.print(summary_table(rows))
        out.print(f"server on {server.host} stopped (exit code {code}); run id {context.run_id}")
    return 0 if all(r.status is not Status.FAILED for _, r in rows) else 1
