"""Per-source connection caps: how many connections one peer address may hold at once.

A global cap alone lets one source take every slot; this counts active connections per TCP
peer *address* (not address and port), so one busy or hostile source is refused while the
others are still served. The key is the TCP peer, never X-Forwarded-For: a header cannot be
trusted before the request is read, and clients behind one trusted proxy share its cap (raise
the cap, or give the proxy its own limits, when that matters).

An IPv6 source is its /64, not its address: one host (one customer line, one VM) is handed
a whole /64 and may pick any of its 2^64 addresses for each connection, so counting per
address would give it a fresh cap per connection. IPv4-mapped IPv6 (``::ffff:a.b.c.d``, what
a dual-stack socket reports for an IPv4 client) is the IPv4 address. The UDP echo's rate
limiter keys its buckets the same way.

Memory is bounded: an entry exists only while its source holds a connection and is removed
when its count returns to zero, so the table never has more entries than there are open
connections, which the global cap bounds.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from waddleperf_server.net.clientaddr import IPAddress, parse_ip

#: The prefix length an IPv6 source is folded to: one host owns a /64.
IPV6_SOURCE_PREFIX = 64


def source_of(addr: IPAddress) -> str:
    """The accounting key of one address: IPv4 as itself, IPv6 as its /64 (``2001:db8::/64``)."""
    if addr.version == 4:
        return str(addr)
    net = ipaddress.IPv6Network((int(addr) >> 64 << 64, IPV6_SOURCE_PREFIX))
    return str(net)


def source_key(address: Any) -> str:
    """The peer's accounting key from a socket address ``(host, port, ...)``: IPv4 as the
    address (IPv4-mapped IPv6 folded to IPv4), IPv6 as its /64; the port is dropped."""
    if isinstance(address, str):  # an AF_UNIX peer
        return address
    try:
        host = str(address[0])
    except (TypeError, IndexError):
        return str(address)
    if ":" not in host:
        return host  # the kernel's IPv4 text is canonical already: the hot case, no parsing
    parsed = parse_ip(host)
    return source_of(parsed) if parsed is not None else host


class SourceCounter:
    """Active connections per source address, capped at ``limit`` each (greenlet-safe:
    acquire and release never yield)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._active: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        """Count one more connection from ``key``; False (nothing counted) when at the cap."""
        current = self._active.get(key, 0)
        if current >= self.limit:
            return False
        self._active[key] = current + 1
        return True

    def release(self, key: str) -> None:
        """One connection from ``key`` ended; the entry goes when its count reaches zero."""
        current = self._active.get(key, 0)
        if current <= 1:
            self._active.pop(key, None)
        else:
            self._active[key] = current - 1

    def count(self, key: str) -> int:
        """Connections ``key`` holds now."""
        return self._active.get(key, 0)

    def __len__(self) -> int:
        """Sources holding at least one connection (the table's size)."""
        return len(self._active)
