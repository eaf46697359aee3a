"""The delayer's packet logic, without I/O: what ``delayer.py`` (the TUN event loop) does to each
packet — stages of delay ± jitter, duplication and reordering, the release schedule, the hop
count given back, the counters — and the framing of its control socket.

Standard library only, and importable both as ``tests.lab.netlab.delaysched`` and, from the
delayer run as a script, as ``delaysched``.
"""

from __future__ import annotations

import heapq
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:
    from tests.lab.netlab.delaytruth import Histogram, Truth
else:  # imported by the delayer run as a script: this folder is sys.path[0]
    from delaytruth import Histogram, Truth

MAX_HELD = 200_000  # packets held at once before new ones are dropped (bounds memory)


def restore_hop(pkt: bytearray) -> None:
    """Add back the one TTL / hop limit the pass through the TUN device cost (RFC 1624 checksum)."""
    version = pkt[0] >> 4
    if version == 4 and len(pkt) >= 20:
        if pkt[8] == 255:
            return
        pkt[8] += 1
        # TTL is the high byte of header word 4, so the word grew by 0x0100; RFC 1624 eqn. 3:
        # HC' = ~(~HC + ~m + m'), which for m' = m + 0x100 is ~(~HC + 0x100).
        csum = (pkt[10] << 8) | pkt[11]
        total = (~csum & 0xFFFF) + 0x0100
        total = (total & 0xFFFF) + (total >> 16)
        new = ~total & 0xFFFF
        pkt[10] = new >> 8
        pkt[11] = new & 0xFF
    elif version == 6 and len(pkt) >= 40 and pkt[7] < 255:
        pkt[7] += 1


def ipv4_checksum(header: bytes | bytearray) -> int:
    """The Internet checksum of an IPv4 header (checksum field taken as zero)."""
    data = bytearray(header)
    data[10:12] = b"\0\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", bytes(data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass
class Stage:
    """One emulated link's share of this direction: delay ± jitter, duplication, reordering."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    duplicate_pct: float = 0.0
    reorder_pct: float = 0.0
    prev_release: float = 0.0
    held_n: int = 0  # packets this stage held, and the holds it scheduled for them (s)
    held_sum: float = 0.0

    def stats(self) -> dict[str, float]:
        """The stage's setting and what it scheduled (ms) for the packets it held."""
        return {
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "held": self.held_n,
            "injected_mean_ms": self.held_sum / self.held_n * 1000 if self.held_n else 0.0,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, float]) -> Stage:
        """Validate a stage sent over the control socket."""
        stage = cls(
            delay_ms=float(raw.get("delay_ms", 0.0)),
            jitter_ms=float(raw.get("jitter_ms", 0.0)),
            duplicate_pct=float(raw.get("duplicate_pct", 0.0)),
            reorder_pct=float(raw.get("reorder_pct", 0.0)),
        )
        if stage.delay_ms < 0 or stage.jitter_ms < 0:
            raise ValueError("delay_ms and jitter_ms must be >= 0")
        if not (0 <= stage.duplicate_pct <= 100 and 0 <= stage.reorder_pct <= 100):
            raise ValueError("duplicate_pct and reorder_pct must be within 0..100")
        return stage


@dataclass
class Tun:
    """One TUN device (one direction) with its stages and counters."""

    name: str
    fd: int
    stages: list[Stage] = field(default_factory=list)
    rx: int = 0
    tx: int = 0
    duplicated: int = 0
    reordered: int = 0
    overflow: int = 0
    # When each write came against its release time (10 µs buckets; the last one holds
    # everything from 100 ms on). Only the write side of the lab's error: ``truth`` has all of it.
    write_late: Histogram = field(default_factory=Histogram)
    truth: Truth = field(default_factory=Truth)

    def record_write(self, data: bytes, late: float, injected: float) -> None:
        """Account one write that came ``late`` seconds after its release time, of a packet
        whose stages scheduled an ``injected``-second hold."""
        self.tx += 1
        self.write_late.add(late)
        self.truth.wrote(data, injected)

    def stats(self) -> dict[str, Any]:
        """Counters; the kernel's view of the holds and the lab's error (``truth``, ms); how
        late the writes were against their release times (``write_late_*``, ms)."""
        return {
            "rx": self.rx,
            "tx": self.tx,
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "overflow": self.overflow,
            **self.truth.stats(),
            "write_late_mean_ms": self.write_late.mean_ms(),
            "write_late_p50_ms": self.write_late.percentile_ms(0.5),
            "write_late_p99_ms": self.write_late.percentile_ms(0.99),
            "write_late_max_ms": self.write_late.high * 1000,
            "stages": [st.stats() for st in self.stages],
        }

    def reset(self) -> None:
        """Zero the counters (the stages stay)."""
        self.rx = self.tx = self.duplicated = self.reordered = self.overflow = 0
        self.write_late = Histogram()
        self.truth.reset()
        for st in self.stages:
            st.held_n, st.held_sum = 0, 0.0


class Schedule:
    """Packets held until their release time, in release order (FIFO for equal times)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        # (release time, sequence, tun, packet, hold scheduled): the sequence keeps FIFO order
        # for equal times.
        self.heap: list[tuple[float, int, Tun, bytes, float]] = []
        self.seq = 0

    def add(self, tun: Tun, pkt: bytes, now: float) -> None:
        """Work out the packet's release time through every stage and queue it (and its copy)."""
        if len(self.heap) >= MAX_HELD:
            tun.overflow += 1
            return
        buf = bytearray(pkt)
        restore_hop(buf)
        data = bytes(buf)
        release = now
        copies = 1
        rand = self.rng.random
        for st in tun.stages:
            if st.reorder_pct and rand() * 100 < st.reorder_pct:
                # Skips the hold, so it overtakes what this stage still holds; prev_release is
                # left alone so the packets behind it keep their own order.
                tun.reordered += 1
            else:
                hold = st.delay_ms
                if st.jitter_ms:
                    hold += self.rng.uniform(-st.jitter_ms, st.jitter_ms)
                before = release
                release = max(release + max(hold, 0.0) / 1000.0, st.prev_release)
                st.prev_release = release
                st.held_n += 1
                st.held_sum += release - before
            if st.duplicate_pct and rand() * 100 < st.duplicate_pct:
                copies += 1
                tun.duplicated += 1
        for _ in range(copies):
            self.seq += 1
            heapq.heappush(self.heap, (release, self.seq, tun, data, release - now))

    def held(self, tun: Tun) -> int:
        """Packets of ``tun`` held right now."""
        return sum(1 for entry in self.heap if entry[2] is tun)


def recv_line(sock: socket.socket) -> bytes:
    """What the peer sends up to and including a newline (or until it closes): one control
    message, a JSON document on one line."""
    raw = b""
    while not raw.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    return raw
