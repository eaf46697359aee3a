"""Helpers for the HTTP integration tests: one real server per module, raw HTTP on sockets."""

from __future__ import annotations

import http.client
import io
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import LocalServer, start_server


@contextmanager
def http_server(
    tmp: Path, config_yaml: str | None = None, host: str = "127.0.0.1"
) -> Iterator[LocalServer]:
    """A real server with only the HTTP service; on exit it is stopped and its log must hold
    no traceback (clients closing early or stalling must never produce one)."""
    # A generous start budget: on a loaded 2-core machine the interpreter alone can take
    # seconds to import, and a slow start is not what these tests are about.
    srv = start_server(
        tmp, host=host, services=("http",), config_yaml=config_yaml, ready_timeout=40
    )
    try:
        yield srv
    finally:
        srv.stop()
    log = srv.log()
    assert "Traceback" not in log, log[-3000:]


def module_http_server(name: str, config_yaml: str | None = None) -> Any:
    """A module-scoped fixture called ``name``: :func:`http_server` with ``config_yaml``."""

    @pytest.fixture(scope="module", name=name)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
        with http_server(tmp_path_factory.mktemp(name), config_yaml) as srv:
            yield srv

    return fixture


def connect(srv: LocalServer, host: str | None = None, timeout: float = 5.0) -> socket.socket:
    """A TCP connection to the server's HTTP port."""
    return socket.create_connection((host or srv.host, srv.http_port), timeout=timeout)


class _Unclosable:
    """A view of a shared buffered reader that HTTPResponse cannot close."""

    def __init__(self, fp: io.BufferedReader) -> None:
        self._fp = fp

    def makefile(self, *args: object, **kwargs: object) -> _Unclosable:
        return self

    def __getattr__(self, name: str) -> object:
        return getattr(self._fp, name)

    def close(self) -> None:
        pass


class ResponseReader:
    """Reads consecutive responses from one connection through one buffer, so bytes of a
    pipelined response read ahead are not lost between responses."""

    def __init__(self, sock: socket.socket) -> None:
        self._shared = _Unclosable(sock.makefile("rb"))

    def read(self, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        """One complete response: status, headers (lower-case names), body."""
        resp = http.client.HTTPResponse(self._shared, method=method)  # type: ignore[arg-type]
        resp.begin()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, body


def request_bytes(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """An HTTP/1.1 request as bytes (Host set, Content-Length when there is a body)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    hdrs = dict(headers or {})
    if body and "Transfer-Encoding" not in hdrs:
        hdrs.setdefault("Content-Length", str(len(body)))
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_interim(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """The interim response head (e.g. ``100 Continue``) the server sends before the body."""
    sock.settimeout(timeout)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed after {head!r}")
        head += chunk
    return head


def closed_by_peer(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
