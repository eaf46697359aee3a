"""One HTTP exchange, timed phase by phase on a socket we create ourselves.

DNS (getaddrinfo), TCP connect, TLS handshake, time to first byte (request sent → first
response byte read from the socket), transfer (first byte → end of body). http.client does
the HTTP/1.1 parsing on our pre-connected socket; a stamping reader under its buffer notes
when the first byte arrives, so TTFB is not the time the whole header block was parsed.
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from waddleperf import __version__
from waddleperf.probes.netio import Family, resolve
from waddleperf.probes.targets import Url

USER_AGENT = f"waddleperf/{__version__}"
_CHUNK = 65_536


class _StampingReader(io.RawIOBase):
    """Raw reader over a socket that remembers when data first arrived (perf_counter ns).

    It reads through the socket's own raw file (``makefile``), which holds a reference: when
    http.client closes the connection on ``Connection: close`` before the body is read, the
    descriptor stays open until this reader is closed (reading the socket itself then failed
    with EBADF whenever the body had not arrived with the headers).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.raw = sock.makefile("rb", buffering=0)
        self.first_byte_ns: int | None = None

    def readable(self) -> bool:
        """Always: this reader only reads."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the socket; the first non-empty read stamps first_byte_ns."""
        n = self.raw.readinto(buffer)
        if n and self.first_byte_ns is None:
            self.first_byte_ns = time.perf_counter_ns()
        return n or 0

    def close(self) -> None:
        """Release the socket reference (the descriptor closes once nothing else holds it)."""
        self.raw.close()
        super().close()


class _TimedResponse(http.client.HTTPResponse):
    """HTTPResponse reading through a _StampingReader."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        # Replace the buffered makefile() reader by the stamping one (nothing was read yet).
        self.fp.close()
        self.stamper = _StampingReader(sock)
        self.fp = io.BufferedReader(self.stamper)


@dataclass
class Connection:
    """An open (maybe TLS) connection and what it cost to open it, in ns (None if reused)."""

    origin: tuple[str, str, int]
    sock: socket.socket
    http: http.client.HTTPConnection
    address: str
    dns_ns: int | None
    connect_ns: int | None
    tls_ns: int | None
    tls_version: str | None = None
    tls_cipher: str | None = None
    cert_expiry_days: float | None = None

    def close(self) -> None:
        """Close the connection."""
        self.http.close()
        self.sock.close()


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request/response: status, headers of interest, timings in ns."""

    status: int
    reason: str
    location: str | None
    body_bytes: int
    ttfb_ns: int
    transfer_ns: int
    will_close: bool


def tls_context(insecure: bool, ca_file: Path | None) -> ssl.SSLContext:
    """A client TLS context: verifying by default (system CAs or ``ca_file``)."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cert_expiry_days(der: bytes | None, now: dt.datetime | None = None) -> float | None:
    """Days until the certificate's notAfter (negative when expired); None if unknown."""
    if not der:
        return None
    try:
        from cryptography import x509
    except ImportError:  # cryptography comes with paramiko; without it the figure is absent
        return None
    cert = x509.load_der_x509_certificate(der)
    now = now or dt.datetime.now(dt.UTC)
    return (cert.not_valid_after_utc - now).total_seconds() / 86_400


def open_connection(
    url: Url, timeout_s: float, family: Family, tls: ssl.SSLContext | None
) -> Connection:
    """Resolve, connect and (for https) handshake, timing each; raises OSError/ssl.SSLError."""
    addr = resolve(url.host, url.port, socket.SOCK_STREAM, family)
    sock = socket.socket(addr.family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        start = time.perf_counter_ns()
        sock.connect(addr.sockaddr)
        connect_ns = time.perf_counter_ns() - start
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls_ns = None
        conn = http.client.HTTPConnection(url.host.name, url.port, timeout=timeout_s)
        if url.scheme == "https":
            assert tls is not None
            # An IP literal here sends no SNI but is still matched against IP SANs.
            sock = tls.wrap_socket(
                sock, server_hostname=url.host.name, do_handshake_on_connect=False
            )
            start = time.perf_counter_ns()
            sock.do_handshake()
            tls_ns = time.perf_counter_ns() - start
        conn.sock = sock
        conn.response_class = _TimedResponse
        result = Connection(
            ("https" if tls else "http", url.host.name, url.port),
            sock,
            conn,
            addr.address,
            addr.elapsed_ns,
            connect_ns,
            tls_ns,
        )
        if isinstance(sock, ssl.SSLSocket):
            result.tls_version = sock.version()
            cipher = sock.cipher()
            result.tls_cipher = cipher[0] if cipher else None
            result.cert_expiry_days = cert_expiry_days(sock.getpeercert(binary_form=True))
        return result
    except BaseException:
        sock.close()
        raise


def exchange(conn: Connection, url: Url, method: str, keep_alive: bool) -> Exchange:
    """Send one request and read the whole response, timing TTFB and transfer (ns)."""
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Connection": "keep-alive" if keep_alive else "close",
    }
    start = time.perf_counter_ns()
    conn.http.request(method, url.path, headers=headers)
    resp = conn.http.getresponse()
    assert isinstance(resp, _TimedResponse)
    body = 0
    while chunk := resp.read(_CHUNK):
        body += len(chunk)
    end = time.perf_counter_ns()
    first = resp.stamper.first_byte_ns or end
    return Exchange(
        status=resp.status,
        reason=resp.reason,
        location=resp.getheader("Location"),
        body_bytes=body,
        ttfb_ns=first - start,
        transfer_ns=end - first,
        will_close=bool(resp.will_close),
    )
