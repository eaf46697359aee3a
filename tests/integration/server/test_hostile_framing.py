"""Request smuggling and lenient framing, tried on a real server over loopback: every case is
refused with its status and a JSON body, and the connection is closed (nothing after a broken
frame may be read as a request)."""

from __future__ import annotations

import json
import socket

import pytest

from tests.support.httphelp import (
    ResponseReader,
    closed_by_peer,
    connect,
    module_http_server,
    request_bytes,
)
from waddleperf.localstack import LocalServer

srv = module_http_server("srv", "http:\n  request_timeout_s: 5\n")

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def _post(*fields: bytes, body: bytes = b"", path: bytes = b"/backend/empty.php") -> bytes:
    return b"\r\n".join([b"POST " + path + b" HTTP/1.1", b"Host: x", *fields]) + b"\r\n\r\n" + body


def _get(*fields: bytes) -> bytes:
    return b"\r\n".join([b"GET /echo HTTP/1.1", b"Host: x", *fields]) + b"\r\n\r\n"


def _refused(srv: LocalServer, raw: bytes, status: int) -> dict[str, object]:
    """Send ``raw``; the one reply must be ``status`` in JSON, then the server closes."""
    sock = connect(srv)
    try:
        sock.sendall(raw)
        code, headers, body = ResponseReader(sock).read("POST")
        assert code == status, body
        assert headers["content-type"] == "application/json"
        assert headers["connection"].lower() == "close"
        doc: dict[str, object] = json.loads(body)
        assert doc["status"] == status and doc["error"]
        assert closed_by_peer(sock, within=3), "a second reply or an open connection"
        return doc
    finally:
        sock.close()


# The cases of the report, then their siblings.
# fmt: off
HEAD_CASES = [
    pytest.param(_post(b"Content-Length: 40", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"
                       + SMUGGLED), 400, id="CL+TE"),
    pytest.param(_post(b"Transfer-Encoding: chunked", b"Content-Length: 4"), 400, id="TE+CL"),
    pytest.param(_post(b"Transfer-Encoding: gzip, chunked", b"Content-Length: 4"), 400,
                 id="TE-gzip-chunked+CL"),
    pytest.param(_post(b"Transfer-Encoding: gzip, chunked"), 501, id="TE-gzip-chunked"),
    pytest.param(_post(b"Transfer-Encoding: chunked, identity", b"Content-Length: 4"), 400,
                 id="TE-chunked-identity+CL"),
    pytest.param(_post(b"Transfer-Encoding: chunked, identity"), 400, id="TE-chunked-not-last"),
    pytest.param(_post(b"Transfer-Encoding: xchunked", b"Content-Length: 4"), 400,
                 id="TE-xchunked+CL"),
    pytest.param(_post(b"Transfer-Encoding: xchunked"), 501, id="TE-xchunked"),
    pytest.param(_post(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"), 400,
                 id="TE-twice"),
    pytest.param(_post(b"Transfer-Encoding : chunked", b"Content-Length: 4"), 400,
                 id="TE-space-before-colon"),
    pytest.param(_post(b"Content-Length : 4"), 400, id="CL-space-before-colon"),
    pytest.param(_post(b"Content-Length: +10", body=b"x" * 10), 400, id="CL-plus"),
    pytest.param(_post(b"Content-Length: 1_0", body=b"x" * 10), 400, id="CL-underscore"),
    pytest.param(_post(b"Content-Length: 1 0", body=b"x" * 10), 400, id="CL-inner-space"),
    pytest.param(_post(b"Content-Length: 0x0a", body=b"x" * 10), 400, id="CL-hex"),
    pytest.param(_post(b"Content-Length: 5", b"Content-Length: 10", body=b"x" * 10), 400,
                 id="CL-conflicting"),
    pytest.param(_post(b"Content-Length: 5", b"Content-Length: 5", body=b"x" * 5), 400,
                 id="CL-repeated"),
    pytest.param(_post(b"Content-Length: 5, 5", body=b"x" * 5), 400, id="CL-list"),
    pytest.param(_get(b"X-A: a\rX-Smuggled: b"), 400, id="bare-CR"),
    pytest.param(_get(b"X-A: a\x00b"), 400, id="NUL"),
    pytest.param(_get(b"X-A: a\x01b"), 400, id="control-char"),
    pytest.param(_get(b"X-A: a\x7fb"), 400, id="DEL"),
    pytest.param(_get(b"X-A: b", b" c"), 400, id="obs-fold"),
    pytest.param(_get(b"X-A: b", b"\tc"), 400, id="obs-fold-tab"),
    pytest.param(_get(b"No colon here"), 400, id="no-colon"),
    pytest.param(_get(b"X A: b"), 400, id="space-in-name"),
    pytest.param(b"GET /echo HTTP/1.1\r\n\r\n", 400, id="no-Host"),
    pytest.param(_get(b"Host: y"), 400, id="two-Hosts"),
    pytest.param(b"GET /echo HTTP/1.1\r\nHost: a b\r\n\r\n", 400, id="bad-Host"),
    pytest.param(b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                 id="TE-in-HTTP/1.0"),
    pytest.param(b"GET  /echo HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="double-space"),
    pytest.param(b"GET /echo HTTP/1.1 \r\nHost: x\r\n\r\n", 400, id="trailing-space"),
    pytest.param(b"GET /echo\r\n\r\n", 400, id="HTTP/0.9"),
    pytest.param(b"GET /echo HTTP/2.0\r\nHost: x\r\n\r\n", 400, id="HTTP/2.0"),
    pytest.param(b"GET /e\x00cho HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="NUL-in-target"),
    pytest.param(b"GET /e#x HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="fragment"),
    pytest.param(b"GET echo HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="relative-target"),
    pytest.param(b"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 501, id="CONNECT"),
    pytest.param(b"GET /echo HTTP/1.1\nHost: x\n\n", 400, id="bare-LF-lines"),
]
# fmt: on


@pytest.mark.parametrize(("raw", "status"), HEAD_CASES)
def test_framing_is_strict(srv: LocalServer, raw: bytes, status: int) -> None:
    _refused(srv, raw, status)


CHUNKED_CASES = [
    pytest.param(b"zz\r\nnot hex\r\n0\r\n\r\n", id="not-hex"),
    pytest.param(b"+5\r\nhello\r\n0\r\n\r\n", id="signed-size"),
    pytest.param(b"0x5\r\nhello\r\n0\r\n\r\n", id="0x-size"),
    pytest.param(b"5 \r\nhello\r\n0\r\n\r\n", id="space-after-size"),
    pytest.param(b"5\nhello\r\n0\r\n\r\n", id="LF-after-size"),
    pytest.param(b"5;a\nb\r\nhello\r\n0\r\n\r\n", id="LF-in-extension"),
    pytest.param(b"5\r\nhelloXX0\r\n\r\n", id="no-CRLF-after-data"),
    pytest.param(b"5\r\nhello\n0\r\n\r\n", id="LF-after-data"),
    pytest.param(b"5\r\nhello\r\n0\r\nX : y\r\n\r\n", id="bad-trailer"),
    pytest.param(b"5\r\nhello\r\n0\r\nX: a\x00\r\n\r\n", id="NUL-in-trailer"),
    pytest.param(b"1" * 17 + b"\r\n", id="size-over-16-digits"),
]


@pytest.mark.parametrize("body", CHUNKED_CASES)
@pytest.mark.parametrize("path", [b"/backend/empty.php", b"/echo", b"/health"])
def test_chunked_bodies_are_strict(srv: LocalServer, body: bytes, path: bytes) -> None:
    """Whether the endpoint reads the body (empty.php, /echo) or leaves it to the handler's
    discard (/health answers 405 first), a broken chunk ends the connection."""
    sock = connect(srv)
    try:
        sock.sendall(_post(b"Transfer-Encoding: chunked", path=path, body=body) + SMUGGLED)
        reader = ResponseReader(sock)
        code, _, _ = reader.read("POST")
        assert code in ((405,) if path == b"/health" else (400,)), code
        assert closed_by_peer(sock, within=3)
    finally:
        sock.close()


def test_the_smuggled_request_is_never_answered(srv: LocalServer) -> None:
    """The report's case: CL 40 + TE chunked with a request hidden in the body. Before, the
    server answered 200 and then 404 for /smuggled on the same connection."""
    body = b"0\r\n\r\n" + SMUGGLED
    raw = _post(f"Content-Length: {len(body)}".encode(), b"Transfer-Encoding: chunked", body=body)
    sock = connect(srv)
    try:
        sock.sendall(raw)
        sock.settimeout(3)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 400 ")
    assert data.count(b"HTTP/1.1 ") == 1, data


def test_valid_framing_still_works(srv: LocalServer) -> None:
    """What strictness must not break: pipelining, chunked bodies with extensions and
    trailers, empty lines before a request, absolute-form targets, HTTP/1.0 keep-alive."""
    sock = connect(srv)
    reader = ResponseReader(sock)
    try:
        chunked = _post(
            b"Transfer-Encoding: chunked", path=b"/echo",
            body=b"5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-Sum: 8\r\n\r\n",
        )  # fmt: skip
        sock.sendall(chunked + b"\r\n" + request_bytes("GET", "/echo?size=3") + chunked)
        code, _, body = reader.read("POST")
        assert code == 200 and json.loads(body)["body_bytes"] == 8
        code, _, body = reader.read()
        assert code == 200 and len(body) == 3
        assert reader.read("POST")[0] == 200
        sock.sendall(b"GET http://example.net:81/echo?a=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        code, _, body = reader.read()
        doc = json.loads(body)
        assert code == 200 and doc["query"] == {"a": ["1"]} and doc["path"] == "/echo"
        assert doc["headers"]["Host"] == "example.net:81"
    finally:
        sock.close()
    with connect(srv) as old:
        reader = ResponseReader(old)
        for _ in range(2):
            old.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            code, headers, _ = reader.read()
            assert code == 200 and headers["connection"].lower() == "keep-alive"


def test_a_request_in_pieces_is_read_whole(srv: LocalServer) -> None:
    """A head split across many segments (and across the CRLF CRLF) is still one request."""
    raw = request_bytes("GET", "/echo?size=2", {"X-Pad": "p" * 3000})
    sock = connect(srv)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(raw), 7):
            sock.sendall(raw[i : i + 7])
        code, _, body = ResponseReader(sock).read()
        assert code == 200 and len(body) == 2
    finally:
        sock.close()
