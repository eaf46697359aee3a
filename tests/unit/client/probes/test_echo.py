"""The echo session engine with a fake transport: scheduling, matching, statistics."""

from __future__ import annotations

import queue
import time

import pytest

from waddleperf.probes import progress
from waddleperf.probes.base import ProbeOptions, Recording, RunContext
from waddleperf.probes.echo import (
    EchoOutcome,
    Reply,
    first_replies,
    run_session,
    session_status,
    summarize_session,
)
from waddleperf.results.model import Status


def recording(**context) -> Recording:
    """A recording whose context has ``context`` (progress, events, partial_on_interrupt)."""
    return Recording("probe.icmp", ProbeOptions(target="x"), RunContext(**context))


def collector() -> tuple[list[progress.Reply], progress.EventSink]:
    """A list of the Reply events a session emits, and the sink that fills it."""
    events: list[progress.Reply] = []

    def sink(event: progress.Event) -> None:
        assert isinstance(event, progress.Reply)
        events.append(event)

    return events, sink


class FakeTransport:
    """Answers every request after a fixed delay; drops, duplicates and swaps on request."""

    def __init__(self, rtt_ns: int = 1_000_000, drop=(), dup=(), fail=()) -> None:
        self.rtt_ns, self.drop, self.dup, self.fail = rtt_ns, set(drop), set(dup), set(fail)
        self.q: queue.Queue[Reply] = queue.Queue()

    def send(self, seq: int) -> None:
        if seq in self.fail:
            raise OSError(101, "Network is unreachable")
        if seq in self.drop:
            return
        reply = Reply(seq, 1_000, 1_000 + self.rtt_ns + seq * 1_000_000)
        self.q.put(reply)
        if seq in self.dup:
            self.q.put(reply)

    def receive(self, timeout_s: float) -> Reply | None:
        try:
            return self.q.get(timeout=timeout_s)
        except queue.Empty:
            return None


def test_session_all_answered_stops_early():
    done = []
    out = run_session(
        FakeTransport(), 5, 0.001, 5.0, recording(progress=lambda d, t: done.append((d, t)))
    )
    assert out.sent == 5 and len(out.replies) == 5
    assert done[-1] == (5, 5)
    metrics, samples = summarize_session(out)
    # RTTs 1, 2, 3, 4, 5 ms
    assert metrics["rtt_min_ms"] == 1.0 and metrics["rtt_max_ms"] == 5.0
    assert metrics["rtt_avg_ms"] == 3.0 and metrics["rtt_p50_ms"] == 3.0
    j = 0.0
    for _ in range(4):
        j += (1.0 - j) / 16
    assert metrics["jitter_ms"] == pytest.approx(j)
    assert metrics["loss_pct"] == 0.0
    assert len(samples) == 5
    assert session_status(out, metrics, "pings") == (Status.OK, None)


def test_session_loss_dup_and_send_error():
    out = run_session(FakeTransport(drop={1}, dup={2}, fail={3}), 4, 0.0, 0.2)
    metrics, samples = summarize_session(out)
    assert metrics["lost_count"] == 2 and metrics["duplicate_count"] == 1
    assert metrics["loss_pct"] == 50.0
    assert [s["duplicate"] for s in samples] == [False, False, True]
    status, error = session_status(out, metrics, "pings")
    assert status is Status.DEGRADED
    assert error is not None and "2 of 4 pings" in error and "could not be sent" in error


def test_session_nothing_answered_fails_with_nulls():
    out = run_session(FakeTransport(drop={0, 1}), 2, 0.0, 0.1)
    metrics, _ = summarize_session(out)
    assert metrics["rtt_avg_ms"] is None and "jitter_ms" not in metrics
    status, error = session_status(out, metrics, "datagrams")
    assert status is Status.FAILED and error == "No reply to any of 2 datagrams."


def test_summarize_reordered_and_jitter():
    out = EchoOutcome(sent=3, replies=[Reply(0, 0, 10), Reply(2, 0, 20), Reply(1, 0, 30)])
    metrics, _ = summarize_session(out)
    assert metrics["reordered_count"] == 1
    # RTTs (ms) 1e-5, 2e-5, 3e-5: D = 1e-5 each
    j1 = 1e-5 / 16
    assert metrics["jitter_ms"] == pytest.approx(j1 + (1e-5 - j1) / 16)


def test_ctrl_c_stops_the_receiver():
    import threading

    def interrupt(done, total):
        if done == 2:
            raise KeyboardInterrupt

    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        run_session(FakeTransport(), 100, 0.001, 5.0, recording(progress=interrupt))
    assert threading.active_count() == before


def test_replies_with_unsent_numbers_are_ignored():
    class Liar(FakeTransport):
        def send(self, seq: int) -> None:
            super().send(seq)
            self.q.put(Reply(seq + 1000, 0, 5))

    out = run_session(Liar(), 3, 0.0, 0.5)
    assert sorted(r.seq for r in out.replies) == [0, 1, 2]


class StalledReceiver(FakeTransport):
    """Answers request 0 twice, but the receiver is not scheduled for 0.5 s after the first
    reply: the duplicate sits queued when the session's grace runs out."""

    def __init__(self) -> None:
        super().__init__(dup={0})
        self.first = True

    def receive(self, timeout_s: float) -> Reply | None:
        if timeout_s > 0 and not self.first:
            time.sleep(0.5)  # the stall: whatever is queued stays queued meanwhile
            return None
        self.first = False
        return super().receive(timeout_s)


def test_replies_queued_when_the_session_ends_are_counted():
    out = run_session(StalledReceiver(), 1, 0.0, 2.0)
    assert [r.seq for r in out.replies] == [0, 0]
    metrics, _ = summarize_session(out)
    assert metrics["duplicate_count"] == 1


def test_live_events_one_per_reply_duplicate_and_timeout():
    events, sink = collector()
    rec = recording(events=sink)
    out = run_session(FakeTransport(drop={1}, dup={2}), 4, 0.0, 0.2, rec)
    metrics, _ = summarize_session(out)
    firsts = [e for e in events if e.ok and not e.duplicate]
    assert sorted(e.seq for e in firsts) == [0, 2, 3]
    assert [e.seq for e in events if e.duplicate] == [2]
    assert [(e.seq, e.ok, e.rtt_ms) for e in events if not e.ok] == [(1, False, None)]
    assert "no reply within 0.2 s" in next(e.detail for e in events if not e.ok)
    # The lines match the record: one per counted reply, one per lost request.
    assert len(firsts) == metrics["received_count"]
    assert sum(not e.ok for e in events) == metrics["lost_count"]
    rtt = {e.seq: e.rtt_ms for e in firsts}
    assert rtt == {r.seq: r.rtt_ns / 1e6 for r in first_replies(out.replies)}


def test_without_a_sink_emit_is_a_no_op():
    rec = recording()
    assert not rec.live
    rec.emit(progress.Start("127.0.0.1"))  # nobody listens: nothing happens, nothing raised


def test_ctrl_c_propagates_unless_partial_results_were_asked_for():
    rec = recording()
    with pytest.raises(KeyboardInterrupt), rec.attempts():
        raise KeyboardInterrupt
    assert not rec.interrupted
    partial = recording(partial_on_interrupt=True)
    with partial.attempts():
        raise KeyboardInterrupt
    record = partial.finish(status=Status.DEGRADED, error="1 of 3 pings got no reply.")
    assert record.status is Status.INTERRUPTED
    assert record.error == (
        "Interrupted (Ctrl-C, SIGINT): the figures cover what was measured until then; "
        "1 of 3 pings got no reply."
    )
    assert partial.finish(status=Status.OK).error == (
        "Interrupted (Ctrl-C, SIGINT): the figures cover what was measured until then."
    )


def test_interrupted_session_returns_what_was_counted():
    def interrupt(done, total):
        if done == 3:
            raise KeyboardInterrupt

    events, sink = collector()
    rec = recording(progress=interrupt, events=sink, partial_on_interrupt=True)
    out = run_session(FakeTransport(), 100, 0.001, 5.0, rec)
    assert rec.interrupted
    assert out.sent == 3 and sorted(r.seq for r in out.replies) == [0, 1, 2]
    assert sorted(e.seq for e in events) == [0, 1, 2] and all(e.ok for e in events)


def test_interrupted_session_does_not_count_a_request_still_waiting():
    def interrupt(done, total):
        if done == 3:
            raise KeyboardInterrupt

    rec = recording(progress=interrupt, partial_on_interrupt=True)
    out = run_session(FakeTransport(drop={2}), 100, 0.001, 5.0, rec)
    metrics, _ = summarize_session(out)
    # Request 2 was inside its 5 s timeout: neither sent nor lost, so no invented loss.
    assert out.sent == 2 and metrics["lost_count"] == 0 and metrics["received_count"] == 2
