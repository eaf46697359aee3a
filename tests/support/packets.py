"""Synthetic IP packets for tests of packet handling (no I/O)."""

from __future__ import annotations

import random
import struct

from tests.lab.netlab.delaysched import ipv4_checksum


def ipv4_header(ttl: int, rng: random.Random) -> bytearray:
    """A valid 20-byte IPv4 header (ICMP, random id and addresses) with ``ttl``."""
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 84, rng.randrange(65536), 0, ttl, 1, 0,
                                rng.randbytes(4), rng.randbytes(4)))  # fmt: skip
    hdr[10:12] = struct.pack("!H", ipv4_checksum(hdr))
    return hdr
