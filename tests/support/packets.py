"""Synthetic IP packets for tests of packet handling (no I/O)."""

from __future__ import annotations

import random
import struct

from waddleperf.probes.icmp_wire import checksum


def ipv4_header(ttl: int, rng: random.Random) -> bytearray:
    """A valid 20-byte IPv4 header (ICMP, random id and addresses) with ``ttl``."""
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 84, rng.randrange(65536), 0, ttl, 1, 0,
                                rng.randbytes(4), rng.randbytes(4)))  # fmt: skip
    hdr[10:12] = struct.pack("!H", checksum(bytes(hdr)))  # RFC 1071, the field still 0
    return hdr
