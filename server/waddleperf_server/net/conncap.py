"""Per-source connection caps: how many connections one peer address may hold at once.

A global cap alone lets one source take every slot; this counts active connections per TCP
peer *address* (not address and port), so one busy or hostile source is refused while the
others are still served. The key is the TCP peer, never X-Forwarded-For: a header cannot be
trusted before the request is read, and clients behind one trusted proxy share its cap (raise
the cap, or give the proxy its own limits, when that matters).

Memory is bounded: an entry exists only while its source holds a connection and is removed
when its count returns to zero, so the table never has more entries than there are open
connections, which the global cap bounds.
"""

from __future__ import annotations

from typing import Any

from waddleperf_server.net.clientaddr import parse_ip


def source_key(address: Any) -> str:
    """The peer's address as a key (IPv4-mapped IPv6 folded to IPv4, port dropped)."""
    try:
        host = str(address[0])
    except (TypeError, IndexError):
        return str(address)
    parsed = parse_ip(host)
    return str(parsed) if parsed is not None else host


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
