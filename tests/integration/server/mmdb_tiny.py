"""A minimal MaxMind DB (MMDB v2) writer for tests: IPv4 networks mapped to small records.

Just enough of the format (search tree of 24-bit records, data section, metadata) for the
official readers to open the file, so GeoIP code is tested against real database files
without shipping one or adding a dependency.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from pathlib import Path
from typing import Any

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


class U16(int):
    """An integer the metadata wants encoded as uint16."""


class U64(int):
    """An integer the metadata wants encoded as uint64."""


def _control(kind: int, size: int) -> bytes:
    if size < 29:
        first, extra = size, b""
    elif size < 285:
        first, extra = 29, bytes([size - 29])
    elif size < 65821:
        first, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        first, extra = 31, (size - 65821).to_bytes(3, "big")
    if kind <= 7:
        return bytes([(kind << 5) | first]) + extra
    return bytes([first, kind - 7]) + extra  # extended type


def encode(value: Any) -> bytes:
    """One value in the MMDB data-section encoding."""
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, int):
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        kind = 5 if isinstance(value, U16) else 9 if isinstance(value, U64) else 6
        return _control(kind, len(raw)) + raw
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def write_mmdb(path: Path, database_type: str, records: dict[str, dict[str, Any]]) -> None:
    """Write an IPv4 database mapping each network (CIDR text) to its record."""
    data = bytearray()
    # Trie of nodes; a child is ("node", index), ("data", offset) or None (no data).
    nodes: list[list[tuple[str, int] | None]] = [[None, None]]
    for cidr, record in records.items():
        net = ipaddress.IPv4Network(cidr)
        offset = len(data)
        data += encode(record)
        bits = int(net.network_address)
        node = 0
        for depth in range(net.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == net.prefixlen - 1:
                nodes[node][bit] = ("data", offset)
                break
            child = nodes[node][bit]
            if child is None or child[0] != "node":
                nodes.append([None, None])
                child = ("node", len(nodes) - 1)
                nodes[node][bit] = child
            node = child[1]
    count = len(nodes)

    def record_value(child: tuple[str, int] | None) -> int:
        if child is None:
            return count
        kind, value = child
        return value if kind == "node" else count + 16 + value

    tree = b"".join(
        record_value(left).to_bytes(3, "big") + record_value(right).to_bytes(3, "big")
        for left, right in nodes
    )
    metadata = {
        "binary_format_major_version": U16(2),
        "binary_format_minor_version": U16(0),
        "build_epoch": U64(int(time.time())),
        "database_type": database_type,
        "description": {"en": "WaddlePerf test database"},
        "ip_version": U16(4),
        "languages": ["en"],
        "node_count": count,
        "record_size": U16(24),
    }
    path.write_bytes(tree + bytes(16) + bytes(data) + METADATA_MARKER + encode(metadata))
