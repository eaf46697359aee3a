"""What the delayer really did to each packet, as the kernel saw it (no I/O here).

The delayer schedules a packet's release from the moment *it read* the packet; the packet
entered the TUN device earlier, by however long the delayer took to wake up and read it, and
re-enters the kernel by however late the write came. Neither shows in the delayer's own clock.
So each device also has a packet socket (``delayer.py``) that gets a kernel-timestamped copy of
every packet going into the device (an *arrival*) and of every packet written back (a
*release*). This module pairs the two copies of each packet and keeps, per device:

- ``hold``: release − arrival, the delay the packet actually spent in the lab's delayer (mean,
  standard deviation, and RFC 3550's interarrival jitter over the holds in release order);
- ``injected``: the hold the delayer's stages scheduled for that packet (delay ± jitter, the
  order-keeping wait included);
- ``late``: hold − injected, the lab's own error for that packet (wake-up to read it plus
  lateness of the write), as a 10 µs histogram.

A packet is known by its first bytes with what forwarding and the delayer change zeroed (TTL or
hop limit, IPv4 header checksum). Standard library only, importable both as
``tests.lab.netlab.delaytruth`` and, from the delayer run as a script, as ``delaytruth``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

#: Bytes of each packet the kernel copies to the truth socket: the IP header and enough of the
#: transport header and payload (ICMP id/seq, TCP/UDP ports and sequence) to tell packets apart.
SNAP = 96
BUCKET_S = 1e-5
BUCKETS = 10_000  # 10 µs buckets up to 100 ms; the last one holds everything later
MAX_TRACKED = 200_000  # arrivals and scheduled holds awaiting their pair (bounds memory)
MAX_RECENT = 4_096  # arrivals remembered for duplicates (one arrival, several releases)


def packet_key(prefix: bytes) -> bytes:
    """``prefix`` (a packet's first bytes) with TTL/hop limit and IPv4 checksum zeroed."""
    buf = bytearray(prefix[:SNAP])
    version = buf[0] >> 4 if buf else 0
    if version == 4 and len(buf) >= 20:
        buf[8] = buf[10] = buf[11] = 0
    elif version == 6 and len(buf) >= 40:
        buf[7] = 0
    return bytes(buf)


@dataclass
class Histogram:
    """Durations (seconds) in 10 µs buckets, with exact count, sum, min and max."""

    count: int = 0
    total: float = 0.0
    low: float = 0.0
    high: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, seconds: float) -> None:
        """Account one duration (a negative one lands in the first bucket, kept in ``low``)."""
        if not self.count or seconds < self.low:
            self.low = seconds
        if not self.count or seconds > self.high:
            self.high = seconds
        self.count += 1
        self.total += seconds
        self.buckets[min(max(int(seconds / BUCKET_S), 0), BUCKETS - 1)] += 1

    def mean_ms(self) -> float:
        """Mean (ms), 0 when empty."""
        return self.total / self.count * 1000 if self.count else 0.0

    def percentile_ms(self, q: float) -> float:
        """Upper edge (ms) of the bucket holding the q-quantile, 0 when empty."""
        if not self.count:
            return 0.0
        rank, seen = q * self.count, 0
        for i, n in enumerate(self.buckets):
            seen += n
            if seen >= rank:
                return (i + 1) * BUCKET_S * 1000
        return BUCKETS * BUCKET_S * 1000


@dataclass
class Truth:
    """The kernel's view of one TUN device: arrivals paired with releases."""

    arrivals: dict[bytes, deque[float]] = field(default_factory=dict)
    scheduled: dict[bytes, deque[float]] = field(default_factory=dict)
    recent: dict[bytes, float] = field(default_factory=dict)  # insertion order: oldest first
    written: list[tuple[bytes, float]] = field(default_factory=list)  # not yet keyed
    tracked: int = 0
    hold_sum: float = 0.0
    hold_squares: float = 0.0
    injected_sum: float = 0.0
    # RFC 3550's interarrival jitter run over the holds in the order packets left: what a
    # receiver timing this device's packets would report (its delay variation is theirs).
    jitter: float = 0.0
    last_hold: float | None = None
    late: Histogram = field(default_factory=Histogram)
    #: False when the device has no truth socket (WPL_TRUTH=0): nothing is kept then.
    enabled: bool = True
    unmatched: int = 0  # releases whose arrival was not seen (sniffer overflow, reset)
    dropped: int = 0  # copies the kernel could not queue to the truth socket

    def wrote(self, data: bytes, injected_s: float) -> None:
        """The delayer wrote ``data`` back, ``injected_s`` after it read it (hot path: no work;
        bounded like the pairs, and nothing at all without a truth socket)."""
        if self.enabled and len(self.written) < MAX_TRACKED:
            self.written.append((data, injected_s))

    def _key_written(self) -> None:
        for data, injected in self.written:
            key = packet_key(data)
            self._push(self.scheduled, key, injected)
        self.written.clear()

    def _push(self, table: dict[bytes, deque[float]], key: bytes, value: float) -> None:
        if self.tracked >= MAX_TRACKED:  # pairs that never came: start afresh, bounded
            self.arrivals.clear()
            self.scheduled.clear()
            self.tracked = 0
        table.setdefault(key, deque()).append(value)
        self.tracked += 1

    def _pop(self, table: dict[bytes, deque[float]], key: bytes) -> float | None:
        queue = table.get(key)
        if not queue:
            return None
        value = queue.popleft()
        self.tracked -= 1
        if not queue:
            del table[key]
        return value

    def sniffed(self, prefix: bytes, stamp: float, arriving: bool) -> None:
        """One kernel copy: a packet entering the device (``arriving``) or written back by the
        delayer, stamped ``stamp`` (kernel time, seconds)."""
        key = packet_key(prefix)
        if arriving:
            self._push(self.arrivals, key, stamp)
            self.recent.pop(key, None)
            self.recent[key] = stamp
            if len(self.recent) > MAX_RECENT:
                del self.recent[next(iter(self.recent))]
            return
        if self.written:
            self._key_written()
        injected = self._pop(self.scheduled, key)
        arrival = self._pop(self.arrivals, key)
        if arrival is None:
            arrival = self.recent.get(key)  # a duplicate: the copy of an arrival already paired
        if arrival is None or injected is None:
            self.unmatched += 1
            return
        hold = stamp - arrival
        self.hold_sum += hold
        self.hold_squares += hold * hold
        if self.last_hold is not None:
            self.jitter += (abs(hold - self.last_hold) - self.jitter) / 16
        self.last_hold = hold
        self.injected_sum += injected
        self.late.add(hold - injected)

    def stats(self) -> dict[str, float]:
        """Paired packets, their mean actual and injected hold (ms), and the lab's error (ms)."""
        n = self.late.count
        mean = self.hold_sum / n if n else 0.0
        variance = max(self.hold_squares / n - mean * mean, 0.0) if n else 0.0
        return {
            "truth_count": n,
            "hold_mean_ms": mean * 1000,
            "hold_sd_ms": variance**0.5 * 1000,
            "hold_jitter_ms": self.jitter * 1000,
            "injected_mean_ms": self.injected_sum / n * 1000 if n else 0.0,
            "late_mean_ms": self.late.mean_ms(),
            "late_p50_ms": self.late.percentile_ms(0.5),
            "late_p99_ms": self.late.percentile_ms(0.99),
            "late_max_ms": self.late.high * 1000 if n else 0.0,
            "late_min_ms": self.late.low * 1000 if n else 0.0,
            "truth_unmatched": self.unmatched,
            "truth_dropped": self.dropped,
        }

    def reset(self) -> None:
        """Zero the figures; packets in flight stay tracked so their releases still pair."""
        self.hold_sum = self.hold_squares = self.injected_sum = self.jitter = 0.0
        self.last_hold = None
        self.late = Histogram()
        self.unmatched = self.dropped = 0
