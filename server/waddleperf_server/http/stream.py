"""One connection's receive side: a buffer over the socket that reads a request head under
the pool's deadline (minimum rate, shrinking as the pool fills) and body bytes under the
body's minimum rate. Every wait is also capped by ``max_wait_s`` (``http.request_timeout_s``).

The head is read here, in as few ``recv`` calls as it arrives in (one for nearly every
request), searched for its end and handed whole to the strict parser (framing.py); bytes after
it stay buffered for the body or the next pipelined request.
"""

from __future__ import annotations

import time
from typing import Any

from waddleperf_server.http import framing
from waddleperf_server.http.framing import FramingError, Head
from waddleperf_server.http.pool import ConnectionPool, Phase, Slot

HEAD_RECV_BYTES = 16 * 1024  # one recv holds any ordinary head; a large one takes a few
BODY_RECV_BYTES = 256 * 1024  # large reads keep uploads at full speed with few system calls


class HeadTimeout(Exception):
    """The head did not arrive in time; ``partial``: some of it had (answer 408), otherwise
    the connection was idle (close without a word)."""

    def __init__(self, partial: bool) -> None:
        super().__init__("request head too slow" if partial else "idle connection timed out")
        self.partial = partial


class Stream:
    """Buffered reads from one connection's socket, with deadlines."""

    __slots__ = ("body_received", "body_since", "buf", "max_wait_s", "pool", "sock")

    def __init__(self, sock: Any, pool: ConnectionPool, max_wait_s: float) -> None:
        self.sock = sock
        self.pool = pool
        self.max_wait_s = max_wait_s
        self.buf = b""  # received, not yet consumed
        self.body_since = 0.0
        self.body_received = 0

    def read_head(self, slot: Slot, max_bytes: int) -> Head | None:
        """The next request head, parsed; None when the client closed before sending one.

        Raises FramingError (400, 414, 431, 501) for a head that must be refused, and
        HeadTimeout when it missed its deadline (``slot``'s phase and the pool's occupancy).
        """
        pool = self.pool
        searched = 0
        while True:
            buf = self.buf
            if buf:
                if buf[:2] == b"\r\n":  # empty lines before a request line are ignored
                    self.buf = buf = buf[framing.skip_empty_lines(buf) :]
                    searched = 0
                end = buf.find(framing.HEAD_END, searched)
                if end >= 0:
                    end += 4
                    self.buf = buf[end:]
                    if end > max_bytes:
                        raise FramingError(431, "request head too large")
                    return framing.parse_head(buf[:end])
                if buf:
                    framing.check_incomplete(buf)
                    if len(buf) > max_bytes:
                        raise FramingError(431, "request head too large")
                    searched = max(0, len(buf) - 3)
                    if slot.phase is not Phase.HEAD:  # a keep-alive request's first bytes
                        pool.waiting(slot, Phase.HEAD, time.monotonic())
                    slot.received = len(buf)
            wait = pool.rules.deadline(slot, pool.occupancy) - time.monotonic()
            if wait <= 0:
                raise HeadTimeout(partial=bool(self.buf))
            self.sock.settimeout(min(wait, self.max_wait_s))
            try:
                data = self.sock.recv(HEAD_RECV_BYTES)
            except TimeoutError:
                continue  # the deadline decides, on the next turn
            if not data:
                return None
            self.buf = self.buf + data if self.buf else data

    def begin_body(self) -> None:
        """The body's clock starts: from now it must arrive at the minimum rate."""
        self.body_since = time.monotonic()
        self.body_received = 0

    def _recv_body(self, size: int) -> bytes:
        rules = self.pool.rules
        wait = rules.body_deadline(self.body_since, self.body_received) - time.monotonic()
        if wait <= 0:
            raise TimeoutError("request body arrives too slowly")
        self.sock.settimeout(min(wait, self.max_wait_s))
        try:
            data: bytes = self.sock.recv(size)
        except TimeoutError:
            raise TimeoutError("request body stalled") from None
        self.body_received += len(data)
        return data

    def read_some(self, size: int) -> bytes:
        """Up to ``size`` body bytes, at least one; b"" when the peer closed."""
        buf = self.buf
        if buf:
            if len(buf) <= size:
                self.buf = b""
                return buf
            self.buf = buf[size:]
            return buf[:size]
        return self._recv_body(min(size, BODY_RECV_BYTES))

    def read_exact(self, size: int) -> bytes:
        """Exactly ``size`` body bytes; fewer only when the peer closed."""
        part = self.read_some(size)
        if len(part) == size or not part:
            return part
        parts = [part]
        left = size - len(part)
        while left > 0:
            part = self.read_some(left)
            if not part:
                break
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def read_line(self, limit: int) -> bytes:
        """One line ending in LF (returned with it), at most ``limit`` bytes; fewer bytes
        without an LF when the peer closed. Raises FramingError (400) past ``limit``."""
        searched = 0
        while True:
            buf = self.buf
            end = buf.find(b"\n", searched)
            if end >= 0:
                if end + 1 > limit:
                    break
                self.buf = buf[end + 1 :]
                return buf[: end + 1]
            if len(buf) >= limit:
                break
            searched = len(buf)
            data = self._recv_body(HEAD_RECV_BYTES)  # a line is short: buffer little
            if not data:
                self.buf = b""
                return buf
            self.buf = buf + data
        raise FramingError(400, "malformed chunked body: a line is too long")
