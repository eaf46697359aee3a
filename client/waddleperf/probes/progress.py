"""What a probe reports while it runs, for a person watching (``waddleperf probe`` on a
terminal prints one line per event, as ping and mtr do).

A probe calls ``Recording.emit`` with one of these events after it has taken the figure the
event carries, never between the two timestamps of a measurement, so a slow consumer (a
terminal, a pipe) can delay the next attempt but never changes a measured figure. Without a
sink in the ``RunContext`` (the library default, and what AutoPerf passes) ``emit`` does
nothing: the events are for people, the record is the result.

Events are plain frozen data; the units are in the names (``rtt_ms``) and ``figures`` follow
the record's metric naming (``goodput_mbps``, ``delivered_bytes``), so the same rules render
both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from waddleperf.results.model import MetricValue


@dataclass(frozen=True, slots=True)
class Start:
    """The probe knows what it is about to measure: the resolved address and a short plan."""

    address: str
    detail: str = ""  # e.g. "5 echo requests, 56 bytes"


@dataclass(frozen=True, slots=True)
class Reply:
    """One attempt ended: an echo reply, a connect, a request, a query, or its failure."""

    seq: int  # the attempt's number, from 0
    ok: bool
    rtt_ms: float | None  # the attempt's figure in ms (round trip, connect, total), if any
    detail: str = ""  # "ttl=64", "HTTP 200", "refused (ECONNREFUSED)", "no reply within 2 s"
    duplicate: bool = False  # a second reply to the same request


@dataclass(frozen=True, slots=True)
class Hop:
    """One trace probe of one round: who answered at ``ttl`` (None: nobody) and its RTT."""

    round: int  # from 0
    rounds: int
    ttl: int
    address: str | None
    rtt_ms: float | None
    final: bool = False  # the destination itself answered


@dataclass(frozen=True, slots=True)
class Interval:
    """A phase or an interval of a longer measurement ended (throughput, load, handshake)."""

    phase: str  # "download", "idle", "connect", "interval"
    figures: Mapping[str, MetricValue] = field(default_factory=dict)  # metric-style names
    detail: str = ""


Event = Start | Reply | Hop | Interval
#: Where a probe's events go; called in the probe's own thread, between its measurements.
EventSink = Callable[[Event], None]
