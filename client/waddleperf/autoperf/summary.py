"""What one cycle did, for people (a rich table) and programs (JSON).

For every server: the tiers it ran and why (the escalation reasons), each step's status and
headline figures; then the load runs and the tier transitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from waddleperf.output import STATUS_STYLE, format_value
from waddleperf.results.model import Result, Status, format_time

#: The few figures shown per probe (the record keeps them all).
HEADLINE: dict[str, tuple[str, ...]] = {
    "icmp": ("rtt_avg_ms", "jitter_ms", "loss_pct"),
    "udp": ("rtt_avg_ms", "jitter_ms", "loss_pct"),
    "tcp": ("connect_avg_ms", "failure_pct"),
    "http": ("total_avg_ms", "ttfb_avg_ms"),
    "dns": ("query_avg_ms",),
    "iperf": ("received_throughput_mbps", "sent_throughput_mbps", "retransmits_count"),
    "speedtest": ("download_throughput_mbps", "upload_throughput_mbps"),
    "rpm": ("responsiveness_rpm",),
    "load": ("throughput_rps", "latency_p95_ms", "error_rate_pct", "target_cpu_avg_pct"),
}


def is_load(result: Result) -> bool:
    """True for a load run's record (its kind is the load engine's, ``load.…``)."""
    return result.kind.startswith("load.")


def probe_kind(result: Result) -> str:
    """What made the record: the probe's name (``probe.icmp`` → ``icmp``), or ``load``."""
    return "load" if is_load(result) else result.kind.rsplit(".", 1)[-1]


def headline(result: Result) -> str:
    """``name=value`` for the figures worth a glance, comma separated."""
    kind = probe_kind(result)
    wanted = [n for n in HEADLINE.get(kind, ()) if n in result.metrics]
    names = wanted or [n for n, v in result.metrics.items() if v is not None][:2]
    return ", ".join(f"{n}={format_value(result.metrics[n])}" for n in names)


@dataclass
class StepLine:
    """One step's outcome in the summary."""

    server: str
    tier: int
    step: str
    status: str
    figures: str
    error: str | None = None
    #: What ran: the probe's name, or ``load``.
    probe: str = ""


def step_line(server: str, step: str, result: Result) -> StepLine:
    """The summary's line for the record of ``server``'s step ``step``."""
    return StepLine(
        server=server,
        tier=result.tier or 0,
        step=step,
        status=result.status.value,
        figures=headline(result),
        error=result.error,
        probe=probe_kind(result),
    )


@dataclass
class ServerLine:
    """A server's path through the cycle."""

    server: str
    tier_before: int
    tier_after: int = 1
    tiers_run: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class CycleSummary:
    """Everything a cycle did; ``to_dict`` is what ``--json`` prints."""

    run_id: str
    cycle: int
    agent: str
    started_at: str
    finished_at: str | None = None
    stopped: bool = False
    output: str | None = None
    servers: dict[str, ServerLine] = field(default_factory=dict)
    steps: list[StepLine] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    load: list[StepLine] = field(default_factory=list)

    def add_step(self, server: str, step: str, result: Result) -> None:
        """File the record of ``server``'s step ``step`` under steps or load runs."""
        line = step_line(server, step, result)
        (self.load if is_load(result) else self.steps).append(line)

    def add_event(self, info: Mapping[str, Any]) -> None:
        """File a tier transition (what its event record says, ``events.event_info``)."""
        self.events.append(dict(info))

    def finish(self, finished_at: Any, stopped: bool, output: str | None) -> None:
        """Close the summary with the end time, whether it was cut short, where it went."""
        self.finished_at = format_time(finished_at)
        self.stopped = stopped
        self.output = output

    @property
    def max_tier(self) -> int:
        """The highest tier any server ran in this cycle."""
        return max((t for s in self.servers.values() for t in s.tiers_run), default=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        data = asdict(self)
        data["servers"] = list(data["servers"].values())
        data["max_tier"] = self.max_tier
        return data


def render(summary: CycleSummary) -> Group:
    """The cycle as tables: steps by server and tier with the reasons, then transitions."""
    title = (
        f"AutoPerf cycle {summary.cycle} · agent {summary.agent} · run {summary.run_id[:12]}"
        + (" · STOPPED" if summary.stopped else "")
    )
    table = Table(title=title, title_justify="left")
    for col in ("server", "tier", "step", "status", "figures / error"):
        table.add_column(col, overflow="fold")
    for srv in summary.servers.values():
        why = "; ".join(srv.notes) or "—"
        table.add_row(
            Text(srv.server, style="bold"),
            f"{srv.tier_before}→{srv.tier_after}",
            Text("why", style="dim"),
            "",
            Text(why, style="italic"),
        )
        for line in (s for s in summary.steps if s.server == srv.server):
            _row(table, "", line)
    for line in summary.load:
        _row(table, "load", line)
    for skip in summary.skipped:
        table.add_row("", str(skip["tier"]), skip["name"], Text("skipped", style="dim"),
                      skip["reason"])  # fmt: skip
    parts: list[Any] = [table]
    if summary.events:
        events = Table(title="Tier transitions", title_justify="left")
        for col in ("server", "from → to", "reason"):
            events.add_column(col, overflow="fold")
        for ev in summary.events:
            events.add_row(str(ev["server"]), f"{ev['from_tier']} → {ev['to_tier']}",
                           str(ev["reason"]))  # fmt: skip
        parts.append(events)
    if summary.output:
        parts.append(Text(f"bundle: {summary.output}", style="dim"))
    return Group(*parts)


def _cells(line: StepLine) -> tuple[Text, str]:
    """A step's status (coloured) and what to read of it: its figures, else its error."""
    style = {s.value: STATUS_STYLE[s] for s in Status}.get(line.status, "")
    detail = line.figures if line.status == "ok" or not line.error else line.error
    if line.status == "degraded" and line.figures:
        detail = f"{line.figures} — {line.error}"
    return Text(line.status, style=style), detail


def _row(table: Table, server: str, line: StepLine) -> None:
    status, detail = _cells(line)
    table.add_row(server, str(line.tier), line.step, status, detail)


def steps_table(title: str, lines: list[StepLine]) -> Table:
    """Steps of one server on their own (no tiers): step, probe, status, figures or error."""
    table = Table(title=title, title_justify="left")
    for col in ("step", "probe", "status", "figures / error"):
        table.add_column(col, overflow="fold")
    for line in lines:
        table.add_row(line.step, line.probe, *_cells(line))
    return table
