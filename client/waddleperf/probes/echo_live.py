"""Live lines of an echo session (ICMP, UDP): each reply as it arrives, each request that got
none within the timeout, as ping prints them.

The receiver thread only queues a reply (``arrived``, a lock-free put); the sending thread
reports them while it waits for its next send (``wait``, in place of the sleep) and when the
session ends (``close``). So a slow terminal never delays a receive and never sits between a
request's send stamp and its send; the figures an event carries are the reply's own stamps.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque

from waddleperf.probes import progress
from waddleperf.results.model import Sample

#: Reply extras not worth a person's attention (stamps the figures were made of).
_HIDDEN_SUFFIX = "_ns"


def reply_detail(extra: Sample) -> str:
    """A reply's extras as ``ttl=64``, stamps left out."""
    return " ".join(f"{k}={v}" for k, v in extra.items() if not k.endswith(_HIDDEN_SUFFIX))


class LiveReplies:
    """Turns a session's sends and replies into ``progress.Reply`` events, in arrival order."""

    def __init__(self, emit: progress.EventSink, timeout_s: float) -> None:
        self._emit, self._timeout_s = emit, timeout_s
        self._queue: queue.SimpleQueue[tuple[int, int, Sample, bool]] = queue.SimpleQueue()
        # Requests still inside their timeout, in send order (seq, monotonic send time), and
        # which of them have been answered: both bounded by one timeout's worth of sends.
        self._pending: deque[tuple[int, float]] = deque()
        self._answered: set[int] = set()

    def arrived(self, seq: int, rtt_ns: int, extra: Sample, duplicate: bool) -> None:
        """A reply to request ``seq`` was counted (receiver thread): queue it for the sender."""
        self._queue.put((seq, rtt_ns, extra, duplicate))

    def sent(self, seq: int) -> None:
        """Request ``seq`` went out just now (sending thread)."""
        self._pending.append((seq, time.monotonic()))

    def wait(self, seconds: float, until: threading.Event | None = None) -> None:
        """Report replies and timeouts for ``seconds`` (or until ``until`` is set)."""
        deadline = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            self._overdue(now)
            if now >= deadline or (until is not None and until.is_set()):
                return
            left = deadline - now
            if self._pending:  # wake when the oldest request runs out of time
                left = min(left, self._pending[0][1] + self._timeout_s - now)
            try:
                item = self._queue.get(timeout=max(left, 0.0))
            except queue.Empty:
                continue
            self._show(*item)

    def close(self, counted: int) -> None:
        """The session is over: queued replies, then a line for every request below
        ``counted`` still unanswered (those above were not counted: interrupted)."""
        while True:
            try:
                self._show(*self._queue.get_nowait())
            except queue.Empty:
                break
        for seq, _ in self._pending:
            if seq < counted and seq not in self._answered:
                self._timed_out(seq)
        self._pending.clear()

    def _show(self, seq: int, rtt_ns: int, extra: Sample, duplicate: bool) -> None:
        if not duplicate and self._pending and seq >= self._pending[0][0]:
            self._answered.add(seq)
        self._emit(progress.Reply(seq, True, rtt_ns / 1e6, reply_detail(extra), duplicate))

    def _overdue(self, now: float) -> None:
        while self._pending and now - self._pending[0][1] >= self._timeout_s:
            seq, _ = self._pending.popleft()
            if seq in self._answered:
                self._answered.discard(seq)
            else:
                self._timed_out(seq)

    def _timed_out(self, seq: int) -> None:
        self._emit(progress.Reply(seq, False, None, f"no reply within {self._timeout_s:g} s"))
