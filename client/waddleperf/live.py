"""Live lines on a terminal while a probe runs, as ping, traceroute and iperf3 print them.

``LiveLines`` is pure (an event in, lines out; it remembers only the address the probe
announced); ``LivePrinter`` writes them to a stream and is the sink ``waddleperf probe`` hands
the probe (``RunContext.events``). Figures in ``Interval`` events are rendered by the same
rules as the record's table (humanised bytes and rates).
"""

from __future__ import annotations

from typing import TextIO

from waddleperf.output import metric_cells
from waddleperf.probes.progress import Event, Hop, Interval, Reply, Start
from waddleperf.tables import styled


def format_ms(value: float) -> str:
    """A time in ms with three significant figures (0.045, 1.23, 12.3, 123), as ping does."""
    if value < 1:
        return f"{value:.3f}"
    if value < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def figures_text(event: Interval) -> str:
    """``goodput 94.3 Mbit/s, moved 11.2 MiB``: an interval's figures as a person reads them."""
    parts = []
    for name, value in event.figures.items():
        label, text, unit = metric_cells(name, value)
        parts.append(f"{label} {text}" + (f" {unit}" if unit else ""))
    return ", ".join(parts)


class LiveLines:
    """The lines of one run's events (kind ``probe.icmp``, target as given)."""

    def __init__(self, kind: str, target: str, color: bool = False) -> None:
        self.name = kind.removeprefix("probe.")
        self.target, self.color = target, color
        self.address: str | None = None

    def lines(self, event: Event) -> list[str]:
        """What to print for ``event`` (usually one line)."""
        if isinstance(event, Start):
            self.address = event.address
            plan = f": {event.detail}" if event.detail else ""
            return [f"{self.name} {self.target} ({event.address}){plan}"]
        if isinstance(event, Reply):
            return [self._reply(event)]
        if isinstance(event, Hop):
            return [self._hop(event)]
        text = figures_text(event)
        detail = f" ({event.detail})" if event.detail else ""
        return [f"{event.phase}: {text}{detail}" if text else f"{event.phase}{detail}"]

    def _reply(self, event: Reply) -> str:
        where = f"{self.address}: " if self.address else ""
        parts = [f"{where}seq={event.seq}"]
        if event.ok and event.rtt_ms is not None:
            parts.append(f"time={format_ms(event.rtt_ms)} ms")
        if event.detail:
            parts.append(event.detail if event.ok else styled(event.detail, "yellow", self.color))
        if event.duplicate:
            parts.append("(DUP!)")
        return " ".join(parts)

    def _hop(self, event: Hop) -> str:
        head = f"round {event.round + 1}/{event.rounds}  hop {event.ttl:>2}  "
        if event.address is None:
            return head + styled("*", "yellow", self.color)
        rtt = f"  {format_ms(event.rtt_ms)} ms" if event.rtt_ms is not None else ""
        return head + event.address + rtt + ("  (destination)" if event.final else "")


class LivePrinter:
    """The event sink of the interactive command: each event's lines, flushed at once."""

    def __init__(self, lines: LiveLines, stream: TextIO) -> None:
        self.format, self.stream = lines, stream
        self.printed = 0  # lines written, for the summary's separation

    def __call__(self, event: Event) -> None:
        """Print ``event`` now (called by the probe between its measurements)."""
        out = self.format.lines(event)
        self.stream.write("".join(line + "\n" for line in out))
        self.stream.flush()
        self.printed += len(out)
