"""Request numbers over a wrapping wire sequence (ICMP's 16 bits): the pure matching logic,
with small moduli so that wrap-arounds, late and duplicate replies are cheap to stage."""

from __future__ import annotations

import heapq
import queue
import threading

import pytest

from waddleperf.probes import icmp_wire
from waddleperf.probes.echo import Reply, WireSequences, run_session, summarize_session
from waddleperf.probes.icmp import MAX_COUNT, IcmpOptions

MS = 1_000_000


def _sent(seqs: WireSequences, count: int, step_ns: int = 1_000) -> list[tuple[int, int]]:
    """Send 0..count-1, ``step_ns`` apart; their (wire, tx_ns)."""
    return [(seqs.sent(i, i * step_ns), i * step_ns) for i in range(count)]


def test_without_wrap_each_reply_is_its_request() -> None:
    seqs = WireSequences(window_ns=10**9)
    sent = _sent(seqs, 5)
    assert [w for w, _ in sent] == [0, 1, 2, 3, 4]
    for i, (wire, tx) in enumerate(sent):
        assert seqs.match(wire, tx + 500, tx) == i
        assert seqs.match(wire, tx + 500) == i  # no echoed stamp: the most recent send


def test_wire_sequence_is_the_index_modulo_the_field() -> None:
    seqs = WireSequences(window_ns=10**12)
    assert [seqs.sent(i, i) for i in (0, 1, 65_535, 65_536, 65_537, 131_072)] == [
        0,
        1,
        65_535,
        0,
        1,
        0,
    ]
    assert icmp_wire.SEQ_MODULUS == 1 << 16


def test_after_a_wrap_a_reply_maps_to_the_newest_send_of_its_sequence() -> None:
    seqs = WireSequences(window_ns=2_500, modulus=4)
    sent = _sent(seqs, 10)  # indexes 1, 5, 9 all go out as wire 1
    wire9, tx9 = sent[9]
    assert wire9 == 1
    assert seqs.match(1, tx9 + 100, tx9) == 9
    assert seqs.match(1, tx9 + 100) == 9
    # the old epochs are gone from memory: their sends are outside the window
    assert seqs.tracked() <= 4


def test_echoed_stamp_picks_the_right_epoch_within_one_window() -> None:
    # A window longer than a whole wrap (fast sending, long timeout): three sends share
    # wire 1 inside it, and only the echoed send time tells them apart.
    seqs = WireSequences(window_ns=10**9, modulus=4)
    sent = _sent(seqs, 12)
    for index in (1, 5, 9):
        wire, tx = sent[index]
        assert seqs.match(wire, 20_000, tx) == index
    assert seqs.match(1, 20_000) == 9  # without a stamp: the most recent
    assert seqs.late == 0


def test_late_reply_across_a_wrap_is_not_taken_for_the_new_epoch() -> None:
    seqs = WireSequences(window_ns=3_500, modulus=4)
    sent = _sent(seqs, 6)  # index 5 goes out as wire 1 at 5000 ns
    wire1, tx1 = sent[1]
    # index 1's reply arrives at 6000 ns: 5000 ns after its request, beyond the window
    assert seqs.match(wire1, 6_000, tx1) is None
    assert seqs.late == 1
    # index 5's own reply still maps to 5
    assert seqs.match(1, 6_000, sent[5][1]) == 5
    # without a stamp the rule is "newest send of that sequence within the window": 5
    assert seqs.match(1, 6_000) == 5
    # ...and once even that is out of the window, nothing
    assert seqs.match(1, 9_000) is None
    assert seqs.late == 2


def test_duplicates_map_to_the_same_index() -> None:
    seqs = WireSequences(window_ns=10**6, modulus=4)
    sent = _sent(seqs, 7)
    wire, tx = sent[6]
    assert seqs.match(wire, tx + 10, tx) == 6
    assert seqs.match(wire, tx + 20, tx) == 6
    assert seqs.match(wire, tx + 30, tx) == 6


def test_unknown_sequences_and_stamps_match_nothing() -> None:
    seqs = WireSequences(window_ns=10**6, modulus=8)
    _sent(seqs, 3)
    assert seqs.match(5, 4_000) is None  # never sent
    assert seqs.match(1, 4_000, 123) is None  # a stamp we never sent
    assert seqs.late == 0
    assert WireSequences(window_ns=10).match(0, 5) is None


def test_memory_is_bounded_by_one_window() -> None:
    seqs = WireSequences(window_ns=100 * MS, modulus=1 << 16)
    for i in range(200_000):
        seqs.sent(i, i * MS)  # one send a millisecond, 100 of them per window
    assert seqs.tracked() <= 101


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="window"):
        WireSequences(window_ns=-1)
    with pytest.raises(ValueError, match="modulus"):
        WireSequences(window_ns=1, modulus=0)
    with pytest.raises(ValueError, match="index"):
        WireSequences(window_ns=1).sent(-1, 0)


class WrappingTransport:
    """A network in a heap: requests go out with a small wire sequence (modulus 8), replies
    come back after a per-request delay (some duplicated, some very late). Time is simulated
    (1 ms per send; after the last send it jumps to the next arrival) and replies are matched
    in arrival order, so the outcome does not depend on the machine's speed."""

    def __init__(self, delays_ns: dict[int, int], dup: set[int], window_ns: int) -> None:
        self.seqs = WireSequences(window_ns, modulus=8)
        self.delays_ns, self.dup = delays_ns, dup
        self.now_ns = 0
        self.pending: list[tuple[int, int, int]] = []  # (rx_ns, wire, tx_ns)
        self.arrived: queue.Queue[Reply] = queue.Queue()
        self.lock = threading.Lock()

    def _deliver_until(self, now_ns: int) -> None:
        self.now_ns = now_ns
        while self.pending and self.pending[0][0] <= now_ns:
            rx, wire, tx = heapq.heappop(self.pending)
            index = self.seqs.match(wire, rx, tx)
            if index is not None:
                self.arrived.put(Reply(index, tx, rx))

    def send(self, seq: int) -> None:
        with self.lock:
            self._deliver_until(self.now_ns + MS)  # requests 1 ms apart
            tx = self.now_ns
            wire = self.seqs.sent(seq, tx)
            rx = tx + self.delays_ns.get(seq, 100_000)
            heapq.heappush(self.pending, (rx, wire, tx))
            if seq in self.dup:
                heapq.heappush(self.pending, (rx + 50_000, wire, tx))

    def receive(self, timeout_s: float) -> Reply | None:
        try:
            return self.arrived.get(timeout=timeout_s / 10)
        except queue.Empty:
            pass
        with self.lock:
            if self.pending:
                self._deliver_until(self.pending[0][0])
        return None


def test_session_over_many_wraps_counts_loss_late_and_duplicates() -> None:
    count = 100  # wire sequences 0..7: twelve wraps
    # request 10 answered 20 ms late (20 sends later: same wire, two epochs on) — beyond the
    # 15 ms window, so lost; request 30's reply 5 ms late (within) — counted, reordered.
    delays = {10: 20 * MS, 30: 5 * MS}
    transport = WrappingTransport(delays, dup={40, 99}, window_ns=15 * MS)
    out = run_session(transport, count, 0.0, 0.5)
    metrics, samples = summarize_session(out)
    assert out.sent == count
    seqs = [s["seq"] for s in samples]
    assert 10 not in seqs and max(r.seq for r in out.replies) == 99
    assert metrics["received_count"] == count - 1 and metrics["lost_count"] == 1
    assert metrics["duplicate_count"] == 2
    assert transport.seqs.late == 1
    # every reply kept its own request's send time: nothing was taken for another epoch
    assert all(r.tx_ns == (r.seq + 1) * MS for r in out.replies)


def test_icmp_count_is_no_longer_capped_at_the_wire_sequence() -> None:
    assert IcmpOptions(target="127.0.0.1", count=70_000).count == 70_000
    assert IcmpOptions(target="127.0.0.1", count=MAX_COUNT).count == MAX_COUNT
    with pytest.raises(ValueError, match="count"):
        IcmpOptions(target="127.0.0.1", count=MAX_COUNT + 1)


def test_departure_time_is_the_one_written_before_the_send() -> None:
    # The payload stamp (tx) identifies the request; the RTT starts at the departure written
    # into the slot just before the socket call, and a reply reports that one.
    seqs = WireSequences(window_ns=10**9, modulus=4)
    wire, departure = seqs.sending(5, 1_000)
    assert (wire, departure) == (1, [1_000])  # until written, the payload stamp
    departure[0] = 1_250
    assert seqs.match_sent(1, 2_000, 1_000) == (5, 1_250)
    assert seqs.match(1, 2_000, 1_000) == 5
    assert seqs.match_sent(1, 2_000, 999) is None  # another epoch's stamp: not this send
    assert seqs.match_sent(1, 10**10, 1_000) is None and seqs.late == 1
