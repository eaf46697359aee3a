"""Hostile clients for the hostile-traffic tests, on loopback from many 127.x source addresses.

Each attack runs in a process of its own (``python -m tests.integration.server.hostilehelp
ATTACK ...``), so its work never delays the test's own measurements through the GIL; it prints
``ready`` once its connections are up and one JSON line of counts when its time is over.
Bounded in time (``--seconds``) and in connections.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import sys
import time
from dataclasses import asdict, dataclass

# Linux: bind() picks no port, connect() does, so one source address can open many more
# connections than its ephemeral range holds sockets in TIME_WAIT.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
SLOW_PREFIXES = (b"GET /", b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")


def connect_from(source: str, port: int, timeout: float = 1.0) -> socket.socket:
    """A TCP connection to 127.0.0.1:``port`` from ``source`` (a 127.x address)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


def sources(first: str, count: int) -> list[str]:
    """``count`` consecutive addresses from ``first`` (``127.0.1.1`` → 127.0.1.1 … .count)."""
    a, b, c, d = (int(x) for x in first.split("."))
    base = (a << 24) | (b << 16) | (c << 8) | d
    return [socket.inet_ntoa((base + i).to_bytes(4, "big")) for i in range(count)]


@dataclass
class Counts:
    """What an attack saw."""

    connects: int = 0
    connect_errors: int = 0
    closed_by_server: int = 0
    replies_429: int = 0
    replies_503: int = 0
    replies_408: int = 0
    max_open: int = 0
    #: Seconds the flood slept because it was ahead of its rate (0: it never waited for its
    #: schedule, so the server's answers, not the rate, bounded it).
    idle_s: float = 0.0


def _note_reply(counts: Counts, data: bytes) -> None:
    for code in (429, 503, 408):
        if data.startswith(b"HTTP/1.1 %d " % code):
            setattr(counts, f"replies_{code}", getattr(counts, f"replies_{code}") + 1)


class Trickler:
    """Connections that each send a request head one byte a second; one the server closes
    is opened again at the next second's tick (as slowloris tools keep their count up)."""

    def __init__(self, port: int, addrs: list[str], per_source: int, counts: Counts) -> None:
        self.port = port
        self.counts = counts
        self.sel = selectors.DefaultSelector()
        self.want = [(addr, i) for i in range(per_source) for addr in addrs]
        self.lost: list[tuple[str, int]] = []

    def open(self, addr: str, n: int) -> None:
        """Open one trickling connection from ``addr``."""
        try:
            sock = connect_from(addr, self.port)
            sock.sendall(SLOW_PREFIXES[n % 2])
        except OSError:
            self.counts.connect_errors += 1
            return
        sock.setblocking(False)
        self.counts.connects += 1
        self.sel.register(sock, selectors.EVENT_READ, (addr, n))

    def open_all(self, deadline: float) -> None:
        """Open every connection (until ``deadline``)."""
        for addr, n in self.want:
            if time.monotonic() > deadline:
                return
            self.open(addr, n)

    def tick(self) -> None:
        """One byte on every open connection; reopen what the server closed."""
        lost, self.lost = self.lost, []
        for addr, n in lost:
            self.open(addr, n)
        keys = list(self.sel.get_map().values())
        self.counts.max_open = max(self.counts.max_open, len(keys))
        for key in keys:
            try:
                key.fileobj.send(b"a")  # type: ignore[union-attr]
            except OSError:
                self.reopen(key)

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the server to answer or close a connection."""
        for key, _ in self.sel.select(timeout):
            try:
                data = key.fileobj.recv(4096)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            _note_reply(self.counts, data)
            self.reopen(key)

    def reopen(self, key: selectors.SelectorKey) -> None:
        """The server closed this one: count it; another opens at the next tick."""
        self.sel.unregister(key.fileobj)
        key.fileobj.close()  # type: ignore[union-attr]
        self.counts.closed_by_server += 1
        self.lost.append(key.data)

    def close(self) -> None:
        """Close every connection."""
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.sel.close()


def slowloris(port: int, first: str, n_sources: int, per_source: int, seconds: float) -> Counts:
    """``n_sources`` × ``per_source`` trickling connections for ``seconds`` seconds."""
    counts = Counts()
    end = time.monotonic() + seconds
    trickler = Trickler(port, sources(first, n_sources), per_source, counts)
    try:
        trickler.open_all(end)
        print("ready", flush=True)
        next_tick = time.monotonic()
        while (now := time.monotonic()) < end:
            if now >= next_tick:
                trickler.tick()
                next_tick = now + 1.0
            trickler.poll(max(0.0, min(next_tick, end) - time.monotonic()))
    finally:
        trickler.close()
    return counts


def flood(port: int, source: str, hold: int, seconds: float, rate: float) -> Counts:
    """One address holding ``hold`` trickling connections (its cap) that keeps connecting
    at up to ``rate`` a second: each new connection sends a request and reads the reply."""
    counts = Counts()
    end = time.monotonic() + seconds
    trickler = Trickler(port, [source], hold, counts)
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    try:
        trickler.open_all(end)
        print("ready", flush=True)
        next_tick = time.monotonic()
        gap = 1.0 / rate
        next_connect = time.monotonic()
        while (now := time.monotonic()) < end:
            if now >= next_tick:
                trickler.tick()
                next_tick = now + 1.0
            trickler.poll(0)
            if now < next_connect:
                nap = min(next_connect - now, 0.01)
                time.sleep(nap)
                counts.idle_s += nap
                continue
            next_connect = max(next_connect + gap, now - 1.0)
            try:
                sock = connect_from(source, port)
            except OSError:
                counts.connect_errors += 1
                continue
            counts.connects += 1
            with sock:
                try:
                    sock.sendall(request)
                    _note_reply(counts, sock.recv(4096))
                    while sock.recv(4096):  # read to the server's FIN: no TIME_WAIT here
                        pass
                except OSError:
                    counts.closed_by_server += 1
    finally:
        trickler.close()
    return counts


def main() -> None:
    """``slowloris PORT FIRST_SOURCE N_SOURCES PER_SOURCE SECONDS`` or
    ``flood PORT SOURCE HOLD SECONDS RATE``; prints ``ready`` then the counts as JSON."""
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="attack", required=True)
    slow = sub.add_parser("slowloris")
    for name, kind in (("port", int), ("first", str), ("n_sources", int), ("per_source", int)):
        slow.add_argument(name, type=kind)
    slow.add_argument("seconds", type=float)
    fl = sub.add_parser("flood")
    for name, kind in (("port", int), ("source", str), ("hold", int)):
        fl.add_argument(name, type=kind)
    fl.add_argument("seconds", type=float)
    fl.add_argument("rate", type=float)
    args = ap.parse_args()
    if args.attack == "slowloris":
        counts = slowloris(args.port, args.first, args.n_sources, args.per_source, args.seconds)
    else:
        counts = flood(args.port, args.source, args.hold, args.seconds, args.rate)
    print(json.dumps(asdict(counts)), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
