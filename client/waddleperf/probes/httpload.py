"""Parallel HTTP/1.1 transfers that run until stopped, counting payload bytes as they move.

The load engine of the speedtest and rpm probes: N threads, each with its own keep-alive
connection (http.client on a socket we open, see http_timing), repeating a download (GET,
``readinto`` a reused buffer, nothing kept) or an upload (POST of a fixed random blob sent in
64 KiB pieces). Counters are per thread and written only by their thread, so reading them
needs no lock. ``stop`` shuts the sockets down, which wakes every blocked thread at once.

Upload bytes are counted when the kernel accepts them (``sendall``), as browsers count
``xhr.upload`` progress; the socket buffer makes that run ahead of the wire at first, which
is why callers discard a grace period.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from waddleperf.probes.http_timing import USER_AGENT, Connection, open_connection
from waddleperf.probes.netio import Family
from waddleperf.probes.targets import Url

Direction = Literal["download", "upload"]
PIECE = 65_536
MAX_CONSECUTIVE_ERRORS = 5
_TCP_INFO_RTT = struct.Struct("=I")
#: Offsets in Linux ``struct tcp_info`` (include/uapi/linux/tcp.h): tcpi_rtt, tcpi_rcv_rtt (µs).
TCPI_RTT_OFFSET, TCPI_RCV_RTT_OFFSET = 68, 92


def tcp_info_rtts_us(info: bytes) -> tuple[int | None, int | None]:
    """(smoothed RTT, receiver RTT estimate) in µs from raw ``TCP_INFO`` bytes; None if absent.

    The sender's smoothed RTT (tcpi_rtt) is what an uploading socket sees; a downloading
    socket sends almost nothing, so its useful figure is the receiver-side estimate
    (tcpi_rcv_rtt, Linux's dynamic right-sizing clock). 0 means "no estimate yet".
    """
    out: list[int | None] = []
    for offset in (TCPI_RTT_OFFSET, TCPI_RCV_RTT_OFFSET):
        if len(info) < offset + 4:
            out.append(None)
            continue
        (value,) = _TCP_INFO_RTT.unpack_from(info, offset)
        out.append(value or None)
    return out[0], out[1]


def socket_rtt_ms(sock: socket.socket, direction: Direction) -> float | None:
    """The kernel's RTT estimate of a load connection in ms (see tcp_info_rtts_us)."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return None
    rtt, rcv_rtt = tcp_info_rtts_us(raw)
    value = rtt if direction == "upload" else rcv_rtt
    return None if value is None else value / 1000


@dataclass
class StreamState:
    """One worker's live state: bytes moved, its socket (while open), last error."""

    bytes: int = 0
    sock: socket.socket | None = None
    error: str | None = None
    requests: int = 0


class TransferStreams:
    """``streams`` parallel repeating transfers to URLs from ``url_for`` until ``stop``."""

    def __init__(
        self,
        url_for: Callable[[], Url],
        direction: Direction,
        streams: int,
        timeout_s: float,
        family: Family = "any",
        stagger_s: float = 0.0,
        upload_bytes: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.url_for, self.direction = url_for, direction
        self.timeout_s, self.family, self.stagger_s = timeout_s, family, stagger_s
        self.states = [StreamState() for _ in range(streams)]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._blob = os.urandom(min(upload_bytes, 1 << 20)) if direction == "upload" else b""
        self.upload_bytes = upload_bytes
        self.tls = tls
        self._adopted: dict[int, Connection] = {}

    def adopt(self, connections: list[Connection]) -> None:
        """Let worker ``i`` start on ``connections[i]`` (already open, e.g. idle-probed) when
        it leads to the same origin; call before ``start``. Unused ones are closed."""
        for i, conn in enumerate(connections):
            if i < len(self.states):
                self._adopted[i] = conn
            else:
                conn.close()

    def start(self) -> None:
        """Start every worker; worker ``i`` waits ``i × stagger_s`` first (LibreSpeed style)."""
        for i, state in enumerate(self.states):
            thread = threading.Thread(
                target=self._work, args=(i, state), name=f"wp-{self.direction}-{i}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def total_bytes(self) -> int:
        """Payload bytes moved so far by all workers."""
        return sum(state.bytes for state in self.states)

    def rejected(self) -> bool:
        """True when every worker failed and no request ever completed: the bytes counted
        (e.g. an upload the server answered 404 to) went nowhere useful."""
        no_success = all(s.requests == 0 for s in self.states)
        return no_success and all(s.error for s in self.states)

    def errors(self) -> list[str]:
        """The last error of each worker that had one."""
        return [s.error for s in self.states if s.error]

    def all_stopped(self) -> bool:
        """True once every worker has given up (or was never started)."""
        return not any(thread.is_alive() for thread in self._threads)

    def kernel_rtts_ms(self) -> list[float]:
        """Current kernel RTT estimates (ms) of the open load connections."""
        out = []
        for state in self.states:
            sock = state.sock
            if sock is not None and (rtt := socket_rtt_ms(sock, self.direction)) is not None:
                out.append(rtt)
        return out

    def stop(self, join_s: float = 5.0) -> None:
        """Stop every worker and wait for them (bounded); safe to call twice."""
        self._stop.set()
        for state in self.states:
            if state.sock is not None:
                with contextlib.suppress(OSError):
                    state.sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + join_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for index in list(self._adopted):  # workers that never got to theirs
            if (conn := self._adopted.pop(index, None)) is not None:
                conn.close()

    def __enter__(self) -> TransferStreams:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- workers ----------------------------------------------------------------------
    def _work(self, index: int, state: StreamState) -> None:
        if self._stop.wait(index * self.stagger_s):
            if (unused := self._adopted.pop(index, None)) is not None:
                unused.close()
            return
        failures = 0
        while not self._stop.is_set() and failures < MAX_CONSECUTIVE_ERRORS:
            conn: Connection | None = self._adopted.pop(index, None)
            try:
                url = self.url_for()
                if conn is not None and conn.origin != (url.scheme, url.host.name, url.port):
                    conn.close()
                    conn = None
                if conn is None:
                    conn = open_connection(url, self.timeout_s, self.family, self.tls)
                state.sock = conn.sock
                reusable = True
                while reusable and not self._stop.is_set():
                    # A complete answer on a connection the server then closes is no error.
                    reusable = self._one_request(conn, url, state)
                    if self._stop.is_set():
                        break  # cut short by stop: not a completed request
                    state.requests += 1
                    failures = 0
                    url = self.url_for()
            except Exception as exc:  # a worker must end with a reason, never a traceback
                if self._stop.is_set():
                    return
                failures += 1
                state.error = describe(exc, self.timeout_s)
                self._stop.wait(0.2)
            finally:
                state.sock = None
                if conn is not None:
                    conn.close()

    def _one_request(self, conn: Connection, url: Url, state: StreamState) -> bool:
        """One transfer on ``conn``; True when the connection may carry the next one."""
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "keep-alive"}
        if self.direction == "download":
            conn.http.request("GET", url.path, headers=headers)
            resp = conn.http.getresponse()
            _check_status(resp, url)
            buf = memoryview(bytearray(PIECE))
            while not self._stop.is_set():
                n = resp.readinto(buf)
                if not n:
                    break
                state.bytes += n
        else:
            conn.http.putrequest("POST", url.path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.http.putheader(name, value)
            conn.http.putheader("Content-Type", "application/octet-stream")
            conn.http.putheader("Content-Length", str(self.upload_bytes))
            conn.http.endheaders()
            left = self.upload_bytes
            view = memoryview(self._blob)
            while left > 0 and not self._stop.is_set():
                piece = view[: min(PIECE, left)]
                conn.sock.sendall(piece)
                state.bytes += len(piece)
                left -= len(piece)
            if self._stop.is_set():
                return False
            resp = conn.http.getresponse()
            _check_status(resp, url)
            resp.read()
        return not resp.will_close


class TransferError(RuntimeError):
    """The server answered, but not with 200."""


def _check_status(resp: http.client.HTTPResponse, url: Url) -> None:
    if resp.status != 200:
        resp.read(PIECE)
        raise TransferError(f"HTTP {resp.status} {resp.reason} from {url}")


def describe(exc: BaseException, timeout_s: float) -> str:
    """A person's sentence fragment for what broke a transfer."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no data for {timeout_s:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listening on that port)"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection"
    return str(exc) or type(exc).__name__
