"""The LibreSpeed backend against what its real clients send.

No LibreSpeed client is installable here (none on PyPI, npm or Debian), so these tests replay
exactly the requests of the web client's speedtest_worker.js and of librespeed-cli (Go):
paths, query strings (``r=<random>``, ``ckSize``, ``cors``, ``isp``/``distance``), methods,
headers and bodies, and check the replies as those clients read them.
"""

from __future__ import annotations

import http.client
import random
import zlib
from collections.abc import Iterator

import pytest
import requests

from tests.support.httphelp import (
    ResponseReader,
    closed_by_peer,
    connect,
    module_http_server,
    read_interim,
    request_bytes,
)
from waddleperf.localstack import LocalServer

MiB = 1024 * 1024
LIMIT = 21 * MiB  # the web client uploads 20 MiB blobs; the 413 tests go just past this
NO_STORE = "no-store, no-cache, must-revalidate, max-age=0, s-maxage=0, post-check=0, pre-check=0"
CONFIG = f"""
http:
  max_upload_bytes: {LIMIT}
  garbage_max_chunks: 64
  garbage_default_chunks: 4
"""


srv = module_http_server("srv", CONFIG)
cors_srv = module_http_server("cors_srv", "http:\n  cors_always: true\n")


def _r() -> str:
    return repr(random.random())


def _assert_no_cache(r: requests.Response) -> None:
    assert r.headers["Cache-Control"] == NO_STORE
    assert r.headers["Pragma"] == "no-cache"


# --- speedtest_worker.js ---------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/backend/", "/"])
def test_worker_js_session(srv: LocalServer, prefix: str) -> None:
    """getIP, download, ping, upload: the four request kinds of one browser test."""
    s = requests.Session()
    base = srv.base_url + prefix
    # getIP: url_getIp + "?isp=true&distance=km&r=" (ISP info requested)
    r = s.get(f"{base}getIP.php?isp=true&distance=km&r={_r()}", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.json() == {"processedString": "127.0.0.1 - localhost IPv4 access", "rawIspInfo": ""}
    _assert_no_cache(r)
    # download: url_dl + "?r=" + Math.random() + "&ckSize=" + garbagePhp_chunkSize
    r = s.get(f"{base}garbage.php?r={_r()}&ckSize=20", timeout=10)
    assert r.status_code == 200 and len(r.content) == 20 * MiB
    assert r.headers["Content-Length"] == str(20 * MiB)
    # ping: GET url_ping + "?r=" + Math.random(); the reply body must be empty
    for _ in range(5):
        r = s.get(f"{base}empty.php?r={_r()}", timeout=5)
        assert r.status_code == 200 and r.content == b""
        _assert_no_cache(r)
    # upload: POST the 20 MiB blob (xhr_ul_blob_megabytes) with Content-Encoding: identity
    # and no Content-Type, as the worker's XHR sends it; IE11's workaround sends 256 KiB
    blob = random.randbytes(MiB) * 20
    for body in (blob, blob[: 256 * 1024]):
        r = s.post(
            f"{base}empty.php?r={_r()}",
            data=body,
            headers={"Content-Encoding": "identity"},
            timeout=10,
        )
        assert r.status_code == 200 and r.content == b""
    # getIP without ISP info: the worker then builds "?&r=..."
    r = s.get(f"{base}getIP.php?&r={_r()}", timeout=5)
    assert r.json()["processedString"] == "127.0.0.1 - localhost IPv4 access"


def test_worker_js_multi_server_uses_cors_and_preflight(srv: LocalServer) -> None:
    """With several points of test the worker adds ``cors=true``; browsers preflight the POST."""
    # before the upload test it sends one bare POST to the upload URL, no query, no body
    r = requests.post(f"{srv.base_url}/backend/empty.php", timeout=5)
    assert r.status_code == 200 and r.content == b""
    url = f"{srv.base_url}/backend/empty.php?cors=true&r={_r()}"
    pre = requests.options(
        url,
        headers={
            "Origin": "http://other.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-encoding, content-type",
        },
        timeout=5,
    )
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert pre.headers["Access-Control-Allow-Headers"] == "Content-Encoding, Content-Type"
    for path in ("garbage.php?cors=true&ckSize=1", "getIP.php?cors=true", "empty.php?cors=true"):
        r = requests.get(f"{srv.base_url}/backend/{path}", timeout=5)
        assert r.headers["Access-Control-Allow-Origin"] == "*", path
        assert r.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"


def test_no_cors_headers_unless_asked(srv: LocalServer, cors_srv: LocalServer) -> None:
    for path in ("/empty.php", "/garbage.php?ckSize=1", "/getIP.php"):
        r = requests.get(srv.base_url + path, timeout=5)
        assert "Access-Control-Allow-Origin" not in r.headers, path
        r = requests.get(cors_srv.base_url + path, timeout=5)
        assert r.headers["Access-Control-Allow-Origin"] == "*", path


# --- librespeed-cli ---------------------------------------------------------------------


def test_librespeed_cli_session(srv: LocalServer) -> None:
    """librespeed-cli: IsUp, HTTP ping, download with ckSize, chunked upload, getIP."""
    server = srv.base_url + "/backend/"
    ua = {"User-Agent": "librespeed-cli/1.0.10"}
    # IsUp: 200 and an empty body, or the server is considered down
    r = requests.get(server + "empty.php", headers=ua, timeout=5)
    assert r.status_code == 200 and r.content == b""
    # download: ckSize set with the query encoder, Accept-Encoding identity
    r = requests.get(
        server + "garbage.php?ckSize=40", headers={**ua, "Accept-Encoding": "identity"}, timeout=10
    )
    assert len(r.content) == 40 * MiB

    # upload: Go sends a reader of unknown length, i.e. Transfer-Encoding: chunked
    def body() -> Iterator[bytes]:
        blob = random.randbytes(256 * 1024)
        for _ in range(6):
            yield blob

    r = requests.post(
        server + "empty.php", data=body(), headers={**ua, "Accept-Encoding": "identity"}, timeout=10
    )
    assert r.status_code == 200 and r.content == b""
    # getIP with isp and distance, parsed as JSON
    r = requests.get(server + "getIP.php?distance=km&isp=true", headers=ua, timeout=5)
    assert r.json()["processedString"].startswith("127.0.0.1")


# --- garbage.php ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ck", "chunks"),
    [
        (None, 4),
        ("1", 1),
        ("0", 4),
        ("-1", 4),
        ("abc", 4),
        ("2.5", 4),
        ("", 4),
        ("64", 64),
        ("65", 64),
        ("99999", 64),
        ("9" * 400, 64),
    ],
)
def test_garbage_cksize_edges_exact_bytes(srv: LocalServer, ck: str | None, chunks: int) -> None:
    query = "" if ck is None else f"?ckSize={ck}"
    with requests.get(
        srv.base_url + "/garbage.php" + query,
        stream=True,
        timeout=30,
        headers={"Accept-Encoding": "gzip, deflate"},
    ) as r:
        assert r.status_code == 200
        assert int(r.headers["Content-Length"]) == chunks * MiB
        got = sum(len(c) for c in r.raw.stream(MiB, decode_content=False))
    assert got == chunks * MiB


def test_garbage_headers_and_incompressible(srv: LocalServer) -> None:
    r = requests.get(
        srv.base_url + "/backend/garbage?ckSize=2", headers={"Accept-Encoding": "gzip"}, timeout=10
    )
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == "attachment; filename=random.dat"
    assert r.headers["Content-Transfer-Encoding"] == "binary"
    assert r.headers["Content-Description"] == "File Transfer"
    assert "Content-Encoding" not in r.headers
    _assert_no_cache(r)
    assert len(zlib.compress(r.content, 6)) / len(r.content) > 0.99


# --- uploads beyond the limit -----------------------------------------------------------


def test_413_keeps_the_keep_alive_connection_usable(srv: LocalServer) -> None:
    sock = connect(srv)
    try:
        local = sock.getsockname()
        reader = ResponseReader(sock)
        big = b"u" * (LIMIT + 500_000)
        sock.sendall(request_bytes("POST", "/backend/empty.php?cors=true", body=big))
        status, headers, body = reader.read()
        assert status == 413
        assert headers["access-control-allow-origin"] == "*"  # a browser may read the error
        assert headers["content-type"] == "application/json"
        assert str(LIMIT) in body.decode()
        assert headers.get("connection", "").lower() != "close"
        # the next request on the very same connection works
        sock.sendall(request_bytes("POST", "/backend/empty.php", body=b"x" * 1000))
        status, _, body = reader.read()
        assert status == 200 and body == b""
        sock.sendall(request_bytes("GET", "/echo"))
        status, _, body = reader.read()
        assert status == 200 and sock.getsockname() == local
    finally:
        sock.close()


def test_413_chunked_upload_cut_off_and_connection_reused(srv: LocalServer) -> None:
    conn = http.client.HTTPConnection(srv.host, srv.http_port, timeout=10)
    try:

        def chunks() -> Iterator[bytes]:
            for _ in range(LIMIT // (256 * 1024) + 4):
                yield b"c" * (256 * 1024)

        conn.request(
            "POST",
            "/empty.php",
            body=chunks(),
            encode_chunked=True,
            headers={"Content-Type": "application/octet-stream"},
        )
        first_sock = conn.sock
        resp = conn.getresponse()
        assert resp.status == 413
        assert b"error" in resp.read()
        conn.request("GET", "/empty.php")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b""
        assert conn.sock is first_sock, "connection was not kept alive"
    finally:
        conn.close()


def test_huge_declared_length_refused_at_once_and_closed(srv: LocalServer) -> None:
    sock = connect(srv)
    try:
        reader = ResponseReader(sock)
        head = request_bytes("POST", "/empty.php", {"Content-Length": str(10 * 1024**3)})
        sock.sendall(head + b"x" * 65536)
        status, headers, body = reader.read("POST")
        assert status == 413
        assert headers["connection"].lower() == "close"
        assert "10737418240" in body.decode()
        assert closed_by_peer(sock, within=5)
    finally:
        sock.close()


def test_upload_within_limit_exact(srv: LocalServer) -> None:
    r = requests.post(srv.base_url + "/echo", data=b"q" * LIMIT, timeout=10)
    assert r.json()["body_bytes"] == LIMIT


def test_raw_socket_pipeline_of_pings(srv: LocalServer) -> None:
    """Pipelined ping requests on one connection are all answered in order."""
    sock = connect(srv)
    reader = ResponseReader(sock)
    try:
        sock.sendall(b"".join(request_bytes("GET", f"/empty.php?r={i}") for i in range(5)))
        for _ in range(5):
            status, _, body = reader.read()
            assert status == 200 and body == b""
    finally:
        sock.close()


def test_expect_continue_over_limit_refused_before_the_body(srv: LocalServer) -> None:
    sock = connect(srv)
    try:
        head = request_bytes(
            "POST",
            "/empty.php",
            {"Content-Length": str(LIMIT + 1), "Expect": "100-continue"},
        )
        sock.sendall(head)  # and no body: the client waits for "100 Continue"
        status, headers, _ = ResponseReader(sock).read("POST")
        assert status == 413  # not 100: the body is never invited
        assert headers["connection"].lower() == "close"
    finally:
        sock.close()


def test_expect_continue_within_limit_is_invited(srv: LocalServer) -> None:
    sock = connect(srv)
    try:
        sock.sendall(
            request_bytes("POST", "/echo", {"Content-Length": "5000", "Expect": "100-continue"})
        )
        assert read_interim(sock).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"b" * 5000)
        status, _, body = ResponseReader(sock).read("POST")
        assert status == 200 and b'"body_bytes":5000' in body
    finally:
        sock.close()
