"""UDP echo: answers valid WaddlePerf probe datagrams, and nothing else.

Policy (why): a UDP echo on the open Internet is a reflection/amplification tool. So only a
datagram that decodes as a WaddlePerf *request* (``udp_wire``) gets a reply; plain "UDP ping"
payloads, replies, truncated, oversized and (with a key configured) unsigned or badly signed
datagrams are dropped without a word. A reply is exactly as long as its request, and every
source address is held to a token bucket, so the server never sends more bytes than it
received and cannot be turned into a flood source by spoofed requests.

A datagram the rate limit drops gets nothing back either (a notice would be a reply the
limit exists to prevent); it is counted per source address and port, and a client asks for
that count with a rate-drop query — a request like any other, under the same bucket and
HMAC check, answered with one datagram of its own length (docs/server.md).
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path
from typing import Any

import gevent

from waddleperf_common import udp_wire
from waddleperf_server import logs
from waddleperf_server.config import UdpEchoConfig, read_key_file
from waddleperf_server.net.conncap import source_key
from waddleperf_server.net.ratelimit import DropTally, LogThrottle, TokenBucketLimiter
from waddleperf_server.net.sockets import bind_socket, describe

DROP_REASONS = ("malformed", "reply", "hmac", "rate", "oversized")
LOG_INTERVAL_S = 10.0
# Yield to other greenlets after this many back-to-back datagrams: under a flood the socket
# is always readable and the loop would otherwise never let HTTP or TCP run.
YIELD_EVERY = 64
#: Keys shorter than this are accepted but warned about: HMAC-SHA256 is only as strong as its key.
MIN_KEY_BYTES = 16


def load_key(cfg: UdpEchoConfig, environ: dict[str, str] | None = None) -> bytes | None:
    """The HMAC key (bytes) from ``hmac_key_file`` or the variable ``hmac_key_env``; None if unset.

    Raises OSError when a configured key file is unreadable or empty: a server the operator
    meant to protect must not silently run unprotected.
    """
    if cfg.hmac_key_file is not None:
        # Already checked when the configuration was loaded (exit 2); read again here, so a
        # file that vanished since is still a start-up error (exit 1), never "no key".
        return read_key_file(Path(cfg.hmac_key_file))
    env = os.environ if environ is None else environ
    if cfg.hmac_key_env:
        value = env.get(cfg.hmac_key_env, "")
        if value:
            return value.encode()
    return None


def key_warning(key: bytes | None) -> str | None:
    """A sentence for the log when ``key`` is too short to protect anything, else None."""
    if key is not None and len(key) < MIN_KEY_BYTES:
        return (
            f"UDP HMAC key is only {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes "
            "(e.g. 32 hex characters from a secrets manager)"
        )
    return None


SO_TIMESTAMPNS = 35  # Linux; SCM_TIMESTAMPNS has the same number
_ANCILLARY = socket.CMSG_SPACE(16)


def kernel_rx_ns(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    """The kernel's receive time (Unix ns) from a recvmsg's ancillary data, if it is there."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return int(sec * 1_000_000_000 + nsec)
    return None


class UdpEchoService:
    """The UDP echo service (see the module docstring for what it answers)."""

    name = "udp_echo"

    def __init__(self, cfg: UdpEchoConfig, bind: str) -> None:
        self.cfg = cfg
        self.bind = bind
        self._log = logs.get("udp_echo")
        self._sock: Any = None
        self._loop: gevent.Greenlet | None = None
        self._key: bytes | None = None
        self._limiter = TokenBucketLimiter(
            cfg.rate_limit_pps, cfg.rate_burst, cfg.max_tracked_sources
        )
        # Per source address *and port*: one probe run is one socket, so its count is its own
        # even when other runs share the address (and its bucket).
        self._tally = DropTally(cfg.max_tracked_sources)
        self._throttle = LogThrottle(LOG_INTERVAL_S)
        self._state = "stopped"
        self.received = 0
        self.replied = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.rate_queries = 0  # rate-drop queries answered
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)

    def start(self) -> None:
        """Bind the UDP port and serve on a greenlet; OSError if the port or key is unusable."""
        self._key = load_key(self.cfg)
        if (warning := key_warning(self._key)) is not None:
            self._log.warning(warning)
        self._sock = bind_socket(self.bind, self.cfg.port, socket.SOCK_DGRAM)
        # The receive time written into replies is the kernel's (a busy server's scheduling
        # is not the path's delay): the forward transit the client's jitter_fwd_ms is made of.
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._state = "running"
        self._loop = gevent.spawn(self._serve)
        self._log.info(
            "listening on %s port=%d hmac=%s rate_limit_pps=%g burst=%d",
            self.bind,
            self.cfg.port,
            "required" if self._key else "off",
            self.cfg.rate_limit_pps,
            self.cfg.rate_burst,
        )

    def stop(self, timeout: float) -> None:
        """Stop the receive loop and close the socket within ``timeout`` seconds."""
        if self._state == "running":
            self._state = "stopped"
        if self._loop is not None:
            self._loop.kill(timeout=timeout)
            self._loop = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def status(self) -> dict[str, Any]:
        """State, port and counters (datagrams; bytes in and out)."""
        return {
            "state": self._state,
            "port": self.cfg.port,
            "hmac_required": self._key is not None,
            "received": self.received,
            "replied": self.replied,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "dropped_by_reason": dict(self.dropped),
            "tracked_sources": len(self._limiter),
            "rate_queries_answered": self.rate_queries,
            "rate_tallied_sources": len(self._tally),
        }

    def _serve(self) -> None:
        # One byte more than the limit: a datagram that fills the buffer is over the limit
        # (the kernel truncates it silently), without needing MSG_TRUNC.
        buf = bytearray(self.cfg.max_datagram_bytes + 1)
        view = memoryview(buf)
        burst = 0
        while True:
            try:
                n, ancillary, _flags, addr = self._sock.recvmsg_into([buf], _ANCILLARY)
            except OSError as exc:
                if self._state != "running":
                    return
                self._event("recv_error", "recv failed: %s", exc)
                gevent.sleep(0.01)
                continue
            rx_ns = kernel_rx_ns(ancillary) or time.time_ns()
            self._handle(view[:n], addr, rx_ns)
            burst += 1
            if burst >= YIELD_EVERY:
                burst = 0
                gevent.sleep(0)

    def _handle(self, data: memoryview, addr: Any, rx_ns: int) -> None:
        n = len(data)
        self.received += 1
        self.bytes_in += n
        if n > self.cfg.max_datagram_bytes:
            self._drop("oversized", addr, n)
            return
        # Rate before parsing and HMAC: the limiter is the cheapest check and caps the CPU
        # any one source can make us spend on crypto.
        if not self._limiter.allow(source_key(addr), time.monotonic()):
            # A query that is itself dropped is not one of the datagrams it asks about.
            if not udp_wire.is_tally_query(data):
                self._tally.dropped((addr[0], addr[1]))
            self._drop("rate", addr, n)
            return
        request = bytes(data)
        try:
            dg = udp_wire.decode(request)
        except udp_wire.WireError:
            self._drop("malformed", addr, n)
            return
        if dg.is_reply:
            self._drop("reply", addr, n)
            return
        try:
            if dg.is_tally:
                reply = self._tally_reply(request, dg.seq, addr)
            else:
                reply = udp_wire.make_reply(request, rx_ns, self._key)
        except udp_wire.WireError:
            self._drop("hmac" if self._key is not None else "malformed", addr, n)
            return
        if len(reply) > n:  # the wire format promises this never happens; never trust it
            self._drop("malformed", addr, n)
            return
        try:
            sent = self._sock.sendto(reply, addr)
        except OSError as exc:
            self._event("send_error", "send to %s failed: %s", describe(addr), exc)
            return
        self.replied += 1
        self.bytes_out += sent

    def _tally_reply(self, request: bytes, query: int, addr: Any) -> bytes:
        # Authentic before it may reset the count: with a key, only its owner can ask.
        udp_wire.decode(request, self._key)
        reply = udp_wire.make_tally_reply(
            request, self._tally.report((addr[0], addr[1]), query), self._key
        )
        self.rate_queries += 1
        return reply

    def _drop(self, reason: str, addr: Any, size: int) -> None:
        self.dropped[reason] += 1
        self._event(reason, "dropped %s datagram from %s size=%d", reason, describe(addr), size)

    def _event(self, kind: str, fmt: str, *args: object) -> None:
        self._throttle.log(self._log, kind, time.monotonic(), fmt, *args)
