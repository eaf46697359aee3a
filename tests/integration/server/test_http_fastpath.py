"""The fast path (empty.php, /rpm/small) on the wire: a real server's replies, header for
header, against what the Flask app itself answers for the same request (computed in-process),
plus the connection behaviour the fast path must keep (keep-alive, pipelining, limits,
100-continue, bad bodies)."""

from __future__ import annotations

import http.client
import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.support.httphelp import (
    ResponseReader,
    closed_by_peer,
    http_server,
    read_interim,
    request_bytes,
)
from waddleperf_server.config import HttpConfig, ServerConfig
from waddleperf_server.http.app import create_app
from waddleperf_server.runtime import Runtime

LIMIT = 1024 * 1024
CONFIG = f"log_level: DEBUG\nhttp:\n  max_upload_bytes: {LIMIT}\n"
# Added by gevent to every reply, whichever path made it.
SERVER_HEADERS = {"date", "connection", "transfer-encoding"}


class _Server(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def http_port(self) -> int: ...
    def log(self) -> str: ...


def _connect(srv: _Server) -> socket.socket:
    return socket.create_connection((srv.host, srv.http_port), timeout=5)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with http_server(tmp_path_factory.mktemp("fast"), CONFIG) as s:
        yield s


def _flask_reply(
    method: str, target: str, headers: dict[str, str], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """What the Flask app alone answers (no fast path), as a WSGI server would receive it."""
    config = ServerConfig(http=HttpConfig(max_upload_bytes=LIMIT))
    app = create_app(config, Runtime(config=config))
    path, _, query = target.partition("?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "HTTP_HOST": "test",
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    for key, value in headers.items():
        env["HTTP_" + key.upper().replace("-", "_")] = value
    got: list[Any] = []

    def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got.append((int(status.split()[0]), hdrs))
        return None

    out = b"".join(app(env, start_response))
    status, hdrs = got[-1]
    return status, [(k.lower(), v) for k, v in hdrs], b"" if method == "HEAD" else out


def _wire_reply(
    srv: _Server, method: str, target: str, headers: dict[str, str], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on a fresh connection; headers as a list, to keep their order and repeats."""
    with _connect(srv) as sock:
        sock.sendall(request_bytes(method, target, headers, body))
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        data = resp.read()
        hdrs = [(k.lower(), v) for k, v in resp.msg.items() if k.lower() not in SERVER_HEADERS]
        return resp.status, hdrs, data


CASES = [
    ("GET", "/backend/empty.php?r=0.1234", {}, b""),
    ("GET", "/empty.php", {}, b""),
    ("GET", "/backend/empty?cors=true&r=1", {}, b""),
    ("HEAD", "/empty", {}, b""),
    (
        "OPTIONS",
        "/backend/empty.php?cors=true",
        {"Origin": "http://o.example", "Access-Control-Request-Method": "POST"},
        b"",
    ),
    ("POST", "/backend/empty.php?r=2", {"Content-Encoding": "identity"}, b"u" * 300_000),
    ("POST", "/empty.php", {}, b"v" * LIMIT),
    ("POST", "/empty.php?cors", {}, b"w" * (LIMIT + 1)),  # 413, read and dropped
    ("PUT", "/empty.php", {}, b""),  # 405 from Flask
]


@pytest.mark.parametrize(("method", "target", "headers", "body"), CASES)
def test_wire_reply_is_the_flask_reply(
    srv: _Server, method: str, target: str, headers: dict[str, str], body: bytes
) -> None:
    wire = _wire_reply(srv, method, target, headers, body)
    assert wire == _flask_reply(method, target, headers, body)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_rpm_small_wire_reply_is_the_flask_reply(srv: _Server, method: str) -> None:
    status, headers, body = _wire_reply(srv, method, "/rpm/small", {}, b"")
    ref_status, ref_headers, ref_body = _flask_reply(method, "/rpm/small", {}, b"")
    # the byte itself comes from each process's own random buffer
    assert (status, headers, len(body)) == (ref_status, ref_headers, len(ref_body))
    assert len(body) == (1 if method == "GET" else 0)


def test_pipelined_mix_of_fast_and_flask_requests(srv: _Server) -> None:
    with _connect(srv) as sock:
        local = sock.getsockname()
        reader = ResponseReader(sock)
        sock.sendall(
            request_bytes("GET", "/empty.php?r=1")
            + request_bytes("POST", "/backend/empty.php", body=b"a" * 70_000)
            + request_bytes("GET", "/echo?size=3")
            + request_bytes("POST", "/empty.php", body=b"b" * (LIMIT + 10))
            + request_bytes("GET", "/backend/garbage.php?ckSize=1")
            + request_bytes("HEAD", "/empty")
            + request_bytes("GET", "/rpm/small", body=b"s" * 5000)  # unread, then discarded
            + request_bytes("GET", "/empty")
        )
        statuses = []
        lengths = []
        for method in ("GET", "POST", "GET", "POST", "GET", "HEAD", "GET", "GET"):
            status, _headers, body = reader.read(method)
            statuses.append(status)
            lengths.append(len(body))
        assert statuses == [200, 200, 200, 413, 200, 200, 200, 200]
        assert lengths[:3] == [0, 0, 3] and lengths[4:] == [1024 * 1024, 0, 1, 0]
        assert sock.getsockname() == local


def test_chunked_upload_within_limit(srv: _Server) -> None:
    with _connect(srv) as sock:
        piece = b"c" * 65536
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(8)) + b"0\r\n\r\n"
        sock.sendall(request_bytes("POST", "/empty.php", {"Transfer-Encoding": "chunked"}) + chunks)
        sock.sendall(request_bytes("GET", "/empty.php"))
        reader = ResponseReader(sock)
        for _ in range(2):
            status, _, body = reader.read("POST")
            assert status == 200 and body == b""


def test_malformed_chunked_body_is_400_json_and_closed(srv: _Server) -> None:
    with _connect(srv) as sock:
        sock.sendall(
            request_bytes("POST", "/backend/empty.php", {"Transfer-Encoding": "chunked"})
            + b"zz-not-hex\r\nxx\r\n"
        )
        status, headers, body = ResponseReader(sock).read("POST")
        assert status == 400
        assert headers["content-type"] == "application/json"
        assert b"cannot read request body" in body
        assert headers["connection"].lower() == "close"
        assert closed_by_peer(sock, within=5)


def test_huge_declared_length_and_expect_continue(srv: _Server) -> None:
    with _connect(srv) as sock:
        sock.sendall(request_bytes("POST", "/empty", {"Content-Length": str(10**12)}) + b"x" * 9)
        status, headers, body = ResponseReader(sock).read("POST")
        assert status == 413 and headers["connection"].lower() == "close"
        assert b"1000000000000 bytes declared" in body
        assert closed_by_peer(sock, within=5)
    with _connect(srv) as sock:
        sock.sendall(
            request_bytes(
                "POST", "/empty.php", {"Content-Length": str(LIMIT + 1), "Expect": "100-continue"}
            )
        )
        status, headers, _ = ResponseReader(sock).read("POST")
        assert status == 413 and headers["connection"].lower() == "close"
    with _connect(srv) as sock:
        sock.sendall(
            request_bytes(
                "POST", "/empty.php", {"Content-Length": "4000", "Expect": "100-continue"}
            )
        )
        assert read_interim(sock).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"d" * 4000)
        status, _, body = ResponseReader(sock).read("POST")
        assert status == 200 and body == b""


def test_stalled_body_is_dropped(tmp_path: Path) -> None:
    with http_server(tmp_path, "http:\n  request_timeout_s: 0.5\n") as s:
        sock = _connect(s)
        try:
            sock.sendall(request_bytes("POST", "/empty.php", {"Content-Length": "1000"}) + b"x")
            sock.settimeout(5)
            data = b""
            try:
                while chunk := sock.recv(65536):
                    data += chunk
            except (ConnectionResetError, TimeoutError):
                pass
            # 408 when the reply still got out, else just closed; never a hang or a 200
            assert not data.startswith(b"HTTP/1.1 200"), data[:200]
        finally:
            sock.close()


def test_fast_path_requests_are_logged(srv: _Server) -> None:
    with _connect(srv) as sock:
        sock.sendall(request_bytes("GET", "/backend/empty.php?r=logcheck"))
        ResponseReader(sock).read()
    log = srv.log()
    assert "request method=GET path=/backend/empty.php status=200 length=0" in log


def test_other_hosts_unaffected(srv: _Server) -> None:
    # The dispatcher keys on the path alone; a bogus Host changes nothing.
    with socket.create_connection((srv.host, srv.http_port), timeout=5) as sock:
        sock.sendall(b"GET /empty.php HTTP/1.1\r\nHost: evil.example:99999\r\n\r\n")
        status, _, body = ResponseReader(sock).read()
    assert status == 200 and body == b""
