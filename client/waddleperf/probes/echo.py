"""Send-and-echo sessions shared by the ICMP and UDP probes.

The I/O is behind ``EchoTransport`` (send one numbered request, receive one reply), so the
session logic and its statistics are tested with a fake transport and no network. A receiver
thread reads replies while the sender keeps its schedule, so every reply is timestamped on
arrival (by the kernel where possible), not after the send loop.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from waddleperf.probes import stats
from waddleperf.probes.base import Recording, paced
from waddleperf.probes.echo_live import LiveReplies
from waddleperf.results.model import MetricValue, Sample, Status

#: After every request is answered, how long to keep listening for duplicates, seconds.
DUPLICATE_GRACE_S = 0.1
#: How long a receive waits before checking whether the session is over, seconds.
_POLL_S = 0.05
#: At the end, the receiver reads every reply already queued (stamped by the kernel when it
#: arrived, so its RTT is right however late it is read), for at most this long, seconds. A
#: busy machine can leave tens of thousands queued: a 0.2 s bound lost 42 000 of 70 000.
_DRAIN_S = 5.0


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: its sequence number, the request's send time and its arrival time (Unix ns)."""

    seq: int
    tx_ns: int
    rx_ns: int
    extra: Sample = field(default_factory=dict)

    @property
    def rtt_ns(self) -> int:
        """Round-trip time in ns."""
        return self.rx_ns - self.tx_ns


class EchoTransport(Protocol):
    """A socket that sends numbered requests and yields replies to them (and only them)."""

    def send(self, seq: int) -> None:
        """Send request ``seq``, stamping it with the send time; raises OSError on failure."""

    def receive(self, timeout_s: float) -> Reply | None:
        """The next reply to one of our requests, or None after ``timeout_s`` seconds."""


class WireSequences:
    """Probe indexes (0, 1, 2, … without end) over a wire sequence field that wraps.

    ICMP echo carries a 16-bit sequence: request 65 536 goes out as 0 again. Each send is
    recorded with its index and send time; a reply is matched to the *most recent* send
    with its wire sequence that is still within ``window_ns`` of the reply's arrival — and,
    when the reply echoes the send time (our ICMP payload does), to the send with exactly
    that time. So a duplicate maps to the same index as its original, and a reply from an
    earlier wrap (an older epoch) is never taken for the current one: it either finds its own
    send still in the window or is late and matches nothing.

    Each send also has a *departure* time, which may be later than the ``tx_ns`` it carries
    (the ICMP transport stamps the payload, then builds the packet, and only then takes the
    time it actually hands it to the kernel): ``sending`` returns a one-element list the
    caller overwrites with it, ``match_sent`` returns it with the index.

    Pure (no clock, no I/O; the caller gives times in ns) and not thread-safe. Memory is
    bounded by the sends of one window: older ones can no longer match and are dropped.
    """

    def __init__(self, window_ns: int, modulus: int = 1 << 16) -> None:
        if window_ns < 0 or modulus < 1:
            raise ValueError("window_ns must be >= 0 and modulus >= 1")
        self.window_ns = window_ns
        self.modulus = modulus
        # wire -> (index, tx_ns, [departure ns]), oldest first
        self._by_wire: dict[int, deque[tuple[int, int, list[int]]]] = {}
        self._order: deque[tuple[int, int]] = deque()  # (wire, tx_ns) of every kept send
        self.late = 0  # replies that matched a wire sequence but no send within the window

    def sent(self, index: int, tx_ns: int) -> int:
        """Record that request ``index`` left at ``tx_ns``; return its wire sequence."""
        return self.sending(index, tx_ns)[0]

    def sending(self, index: int, tx_ns: int) -> tuple[int, list[int]]:
        """Record request ``index`` carrying ``tx_ns``; its wire sequence and its departure
        slot (``[tx_ns]`` until the caller writes the time the request really left, ns)."""
        if index < 0:
            raise ValueError("index must be >= 0")
        self._forget_before(tx_ns - self.window_ns)
        wire = index % self.modulus
        departure = [tx_ns]
        self._by_wire.setdefault(wire, deque()).append((index, tx_ns, departure))
        self._order.append((wire, tx_ns))
        return wire, departure

    def match(self, wire: int, rx_ns: int, tx_ns: int | None = None) -> int | None:
        """The index of the request a reply with sequence ``wire`` that arrived at ``rx_ns``
        answers, or None: never sent, late (counted in ``late``), or its echoed ``tx_ns``
        matches no send."""
        found = self.match_sent(wire, rx_ns, tx_ns)
        return None if found is None else found[0]

    def match_sent(self, wire: int, rx_ns: int, tx_ns: int | None = None) -> tuple[int, int] | None:
        """Like ``match``, with the matched request's departure time (ns): (index, ns)."""
        if tx_ns is not None and rx_ns - tx_ns > self.window_ns:
            self.late += 1  # its own stamp says so, whether or not its send is still kept
            return None
        entries = self._by_wire.get(wire)
        if not entries:
            return None
        for index, sent_ns, departure in reversed(entries):  # most recent first
            if rx_ns - sent_ns > self.window_ns:
                break  # this one and every older one are out of the window
            if tx_ns is None or tx_ns == sent_ns:
                return index, departure[0]
        if tx_ns is None:
            self.late += 1
        return None

    def tracked(self) -> int:
        """How many sends are still kept (at most those of one window)."""
        return len(self._order)

    def _forget_before(self, oldest_ns: int) -> None:
        order = self._order
        while order and order[0][1] < oldest_ns:
            wire, _ = order.popleft()
            entries = self._by_wire[wire]
            entries.popleft()
            if not entries:
                del self._by_wire[wire]


@dataclass
class EchoOutcome:
    """What a session saw: how many requests went out, replies in arrival order, send errors."""

    sent: int = 0
    replies: list[Reply] = field(default_factory=list)
    send_errors: list[str] = field(default_factory=list)
    receive_error: str | None = None


def run_session(
    transport: EchoTransport,
    count: int,
    interval_s: float,
    timeout_s: float,
    rec: Recording | None = None,
) -> EchoOutcome:
    """Send ``count`` requests ``interval_s`` apart; collect replies until all arrived or
    ``timeout_s`` passed after the last send. Ctrl-C stops the receiver before it propagates,
    or, when ``rec`` asks for partial results, ends the session with what was counted.

    ``rec`` gets progress and, when it has a sink, one live event per reply or timeout."""
    outcome = EchoOutcome()
    stop = threading.Event()
    lock = threading.Lock()
    answered: set[int] = set()
    all_in = threading.Event()
    live = LiveReplies(rec.emit, timeout_s) if rec is not None and rec.live else None
    # Sends of the last timeout_s (seq, monotonic): only to cut an interrupted session.
    recent: deque[tuple[int, float]] | None = (
        deque() if rec is not None and rec.context.partial_on_interrupt else None
    )

    def receiver() -> None:
        drain_deadline: float | None = None
        while True:
            draining = stop.is_set()
            if draining:
                # The session is over, but replies already queued (a receiver the machine did
                # not schedule during the grace) still count: read them until none is left.
                if drain_deadline is None:
                    drain_deadline = time.monotonic() + _DRAIN_S
                elif time.monotonic() >= drain_deadline:
                    return
            try:
                reply = transport.receive(0.0 if draining else _POLL_S)
            except OSError as exc:
                outcome.receive_error = str(exc)
                return
            except ValueError:
                # The socket was closed under this thread: a second Ctrl-C cut the join
                # below short and the caller closed its transport. Nothing more to read.
                return
            if reply is None and draining:
                return
            if reply is None or not 0 <= reply.seq < count:
                continue  # nothing, or a number we never sent: not ours to count
            with lock:
                outcome.replies.append(reply)
                duplicate = reply.seq in answered
                answered.add(reply.seq)
                if len(answered) >= count:
                    all_in.set()
                if live is not None:  # after all_in: the sender sees both together
                    live.arrived(reply.seq, reply.rtt_ns, reply.extra, duplicate)

    thread = threading.Thread(target=receiver, name="echo-receiver", daemon=True)
    thread.start()
    try:
        with rec.attempts() if rec is not None else contextlib.nullcontext():
            for seq in paced(count, interval_s, None if live is None else live.wait):
                try:
                    transport.send(seq)
                except OSError as exc:
                    outcome.send_errors.append(f"request {seq}: {exc.strerror or exc}")
                outcome.sent = seq + 1
                if live is not None:
                    live.sent(seq)
                if recent is not None:
                    _remember(recent, seq, timeout_s)
                if rec is not None:
                    rec.progress(seq + 1, count)
            if live is None:
                all_in.wait(timeout_s)
            else:
                live.wait(timeout_s, all_in)
            if all_in.is_set():
                # Duplicates of the last requests arrive just after their originals: listen a
                # little longer, or they would go uncounted.
                (time.sleep if live is None else live.wait)(min(DUPLICATE_GRACE_S, timeout_s))
    finally:
        stop.set()
        thread.join(timeout=_DRAIN_S + 1.0)
    if rec is not None and rec.interrupted and recent is not None:
        _cut_undecided(outcome, recent, answered, timeout_s)
    if live is not None:
        live.close(outcome.sent)
    return outcome


def _remember(recent: deque[tuple[int, float]], seq: int, timeout_s: float) -> None:
    now = time.monotonic()
    recent.append((seq, now))
    while now - recent[0][1] > timeout_s:
        recent.popleft()


def _cut_undecided(
    outcome: EchoOutcome, recent: deque[tuple[int, float]], answered: set[int], timeout_s: float
) -> None:
    """An interrupted session counts only requests whose fate is known: from the first one
    still unanswered inside its timeout on, nothing is counted (neither sent nor lost)."""
    now = time.monotonic()
    undecided = [s for s, t in recent if now - t < timeout_s and s not in answered]
    if undecided:
        outcome.sent = min(undecided)
        outcome.replies = [r for r in outcome.replies if r.seq < outcome.sent]


def summarize_session(outcome: EchoOutcome) -> tuple[dict[str, MetricValue], list[Sample]]:
    """RTT figures (ms), RFC 3550 jitter over RTTs, loss/duplicates/reordering, samples.

    Only each sequence number's first reply counts toward RTT; later copies are duplicates.
    Jitter: D = RTT_i − RTT_(i−1) over first replies in arrival order (round-trip variant).
    """
    seen: set[int] = set()
    samples: list[Sample] = []
    for reply in outcome.replies:
        duplicate = reply.seq in seen
        seen.add(reply.seq)
        samples.append(
            {"seq": reply.seq, "rtt_ms": reply.rtt_ns / 1e6, "duplicate": duplicate, **reply.extra}
        )
    rtts = [r.rtt_ns / 1e6 for r in first_replies(outcome.replies)]
    metrics: dict[str, MetricValue] = stats.series_metrics("rtt", rtts)
    jitter = stats.rfc3550_jitter(rtts)
    if jitter is not None:  # fewer than two replies: nothing to differ, so no figure at all
        metrics["jitter_ms"] = jitter
    seq_stats = stats.sequence_stats(outcome.sent, (r.seq for r in outcome.replies))
    metrics.update(stats.sequence_metrics(seq_stats))
    return metrics, samples


def session_status(
    outcome: EchoOutcome, metrics: dict[str, MetricValue], what: str, notes: Sequence[str] = ()
) -> tuple[Status, str | None]:
    """ok / degraded / failed and the reason, from a session's counts (plus transport notes)."""
    received = metrics.get("received_count") or 0
    notes = list(notes)
    if outcome.send_errors:
        notes.append(f"{len(outcome.send_errors)} could not be sent ({outcome.send_errors[0]})")
    if outcome.receive_error:
        notes.append(f"receiving failed: {outcome.receive_error}")
    detail = "; ".join(notes)
    if received == 0:
        reason = f"No reply to any of {outcome.sent} {what}"
        return Status.FAILED, f"{reason}; {detail}." if detail else f"{reason}."
    lost = metrics.get("lost_count") or 0
    if lost:
        reason = f"{lost} of {outcome.sent} {what} got no reply"
        return Status.DEGRADED, f"{reason}; {detail}." if detail else f"{reason}."
    return Status.OK, None


def first_replies(replies: Sequence[Reply]) -> list[Reply]:
    """Each sequence number's first reply, in arrival order."""
    seen: set[int] = set()
    out: list[Reply] = []
    for reply in replies:
        if reply.seq not in seen:
            seen.add(reply.seq)
            out.append(reply)
    return out
