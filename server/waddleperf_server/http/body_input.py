"""``wsgi.input``: the request body framed by Content-Length or by the chunked coding (read
strictly, chunks.py), through the connection's Stream under the body's minimum rate, and a
bounded discard of whatever the application left unread.

gevent's own input would read whatever the application left, without limit, before the next
request on the connection (a client declaring 10 GiB would hold the handler for 10 GiB). Here
the discard stops after a budget, or at once when the app refused the body, and the
connection is then closed instead of reused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from waddleperf_server.http import bodies, chunks
from waddleperf_server.http.framing import FramingError
from waddleperf_server.http.request_body import ABANDON_KEY
from waddleperf_server.http.stream import Stream

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: readline without a size stops here.
MAX_LINE = 64 * 1024


class BodyError(OSError):
    """The body broke its framing or ended early (the request gets 400, the connection
    closes)."""


class BodyInput:
    """The request body as a file to read; ``abandoned`` after the request when the rest of
    the body was not read (the connection must then close)."""

    __slots__ = (
        "abandoned",
        "chunk_left",
        "chunked",
        "continue_sock",
        "done",
        "environ",
        "failed",
        "left",
        "started",
        "stream",
    )

    def __init__(
        self, stream: Stream, content_length: int | None, chunked: bool, continue_sock: Any
    ) -> None:
        self.stream = stream
        self.left = content_length or 0
        self.chunked = chunked
        self.chunk_left = 0
        self.done = not chunked and not self.left
        # Set while "100 Continue" is owed: the client holds the body back until it gets it.
        self.continue_sock = continue_sock if not self.done else None
        self.environ: dict[str, Any] | None = None
        self.abandoned = False
        self.failed = False
        self.started = False

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of the body, at least one while any is left (as a socket
        reads: what has arrived, without waiting to fill ``size``); all of it for -1 or
        None; b"" at its end."""
        if self.done or size == 0:
            return b""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(bodies.READ_CHUNK), b""))
        if not self.started:
            self._start()
        try:
            return self._chunked(size) if self.chunked else self._plain(size)
        except FramingError as exc:
            self.failed = True
            raise BodyError(exc.message) from None
        except BaseException:
            self.failed = True
            raise

    def readline(self, size: int | None = -1) -> bytes:
        """One line of the body (with its LF), at most ``size`` bytes."""
        limit = MAX_LINE if size is None or size < 0 else size
        out = bytearray()
        while len(out) < limit:
            byte = self.read(1)
            if not byte:
                break
            out += byte
            if byte == b"\n":
                break
        return bytes(out)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Every remaining line."""
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def _start(self) -> None:
        self.started = True
        if self.continue_sock is not None:
            self.continue_sock.sendall(CONTINUE)
            self.continue_sock = None
        self.stream.begin_body()

    def _plain(self, size: int) -> bytes:
        data = self.stream.read_some(min(size, self.left))
        if not data:
            raise BodyError("the client closed the connection inside the request body")
        self.left -= len(data)
        if not self.left:
            self.done = True
        return data

    def _chunked(self, size: int) -> bytes:
        stream = self.stream
        if self.chunk_left == 0:
            n = chunks.chunk_size(stream.read_line(chunks.MAX_CHUNK_LINE))
            if n == 0:
                self._trailers()
                self.done = True
                return b""
            self.chunk_left = n
        data = stream.read_some(min(size, self.chunk_left))
        if not data:
            raise BodyError("the client closed the connection inside a chunk")
        self.chunk_left -= len(data)
        if self.chunk_left == 0 and stream.read_exact(2) != b"\r\n":
            raise FramingError(400, "malformed chunked body: chunk data not followed by CRLF")
        return data

    def _trailers(self) -> None:
        for _ in range(chunks.MAX_TRAILERS + 1):
            line = self.stream.read_line(chunks.MAX_CHUNK_LINE)
            if line == b"\r\n":
                return
            if not line.endswith(b"\n"):
                raise BodyError("the client closed the connection inside the trailers")
            chunks.check_trailer(line)
        raise FramingError(400, f"malformed chunked body: more than {chunks.MAX_TRAILERS} trailers")

    def _discard(self) -> None:
        """What gevent calls after the application: read and drop the rest of the body within
        the budget, or mark the connection abandoned."""
        if self.environ is not None and self.environ.get(ABANDON_KEY):
            self.abandoned = True
            return
        if self.done:
            return
        if self.failed or self.continue_sock is not None:
            # A broken body cannot be resynchronised; and a client waiting for
            # "100 Continue" holds its body back, so waiting for it could hang.
            self.abandoned = True
            return
        if self.left > bodies.DISCARD_BUDGET_BYTES:
            self.abandoned = True
            return
        try:
            result = bodies.drain(self, limit=0)
        except (OSError, ValueError):
            self.abandoned = True
            return
        if not result.complete:
            self.abandoned = True
