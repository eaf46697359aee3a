"""Slow, idle and greedy clients; IPv6 and dual-stack binding."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.httphelp import (
    ResponseReader,
    closed_by_peer,
    connect,
    http_server,
    module_http_server,
    request_bytes,
)
from tests.support.require import require
from waddleperf.localstack import LocalServer, child_env, server_argv

impatient = module_http_server("impatient", "http:\n  request_timeout_s: 1\n")
small_pool = module_http_server(
    "small_pool", "http:\n  request_timeout_s: 20\n  max_connections: 2\n  workers: 1\n"
)


def test_half_request_line_is_dropped_and_others_served(impatient: LocalServer) -> None:
    slow = connect(impatient)
    try:
        start = time.monotonic()
        slow.sendall(b"GET /hea")
        # meanwhile the server answers everyone else
        assert requests.get(impatient.base_url + "/health", timeout=2).status_code == 200
        assert closed_by_peer(slow, within=4)
        assert 0.8 < time.monotonic() - start < 4
    finally:
        slow.close()


def test_trickled_request_line_is_dropped(impatient: LocalServer) -> None:
    """One byte every 0.2 s never trips the idle timeout, but the line deadline cuts it."""
    sock = connect(impatient)
    start = time.monotonic()
    closed = False
    try:
        sock.settimeout(0.2)
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n":
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
        assert closed, "a trickling client was served after all"
        assert time.monotonic() - start < 3
    finally:
        sock.close()


def test_trickled_headers_get_408_and_close(impatient: LocalServer) -> None:
    sock = connect(impatient)
    try:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        for _ in range(8):
            try:
                sock.sendall(b"X: y\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.2)
        sock.settimeout(3)
        data = sock.recv(65536)
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:100]
        assert closed_by_peer(sock, within=3)
    finally:
        sock.close()


def test_idle_keep_alive_connection_is_closed(impatient: LocalServer) -> None:
    sock = connect(impatient)
    try:
        sock.sendall(request_bytes("GET", "/health"))
        status, _, _ = ResponseReader(sock).read()
        assert status == 200
        assert closed_by_peer(sock, within=4)
    finally:
        sock.close()


def test_full_pool_refuses_the_same_source_and_sheds_for_another(small_pool: LocalServer) -> None:
    """A full pool never holds more than max_connections: a third connection from the source
    holding both slots is refused at once (503, not left in the backlog); one from another
    address takes the slot of an idle connection of the big source."""
    held = [connect(small_pool), connect(small_pool)]
    try:
        time.sleep(0.3)  # both held connections are accepted and own the pool
        with connect(small_pool) as third:
            third.sendall(request_bytes("GET", "/health"))
            status, headers, body = ResponseReader(third).read()
            assert status == 503 and headers["connection"].lower() == "close"
            assert json.loads(body)["status"] == 503
        other = socket.create_connection(
            (small_pool.host, small_pool.http_port), timeout=5, source_address=("127.0.0.2", 0)
        )
        with other:
            other.sendall(request_bytes("GET", "/health"))
            status, _, body = ResponseReader(other).read()
            assert status == 200
            doc = json.loads(body)["services"]["http"]
            assert doc["max_connections"] == 2 and doc["connections"] == 2
            assert doc["shed"] == 1 and doc["pool_full_rejected"] == 1
        assert closed_by_peer(held[0], within=3)  # the oldest idle one was shed
    finally:
        for s in held:
            s.close()


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.usefixtures("_ipv6")


@pytest.fixture
def _ipv6() -> None:
    require(_ipv6_available(), "needs IPv6 on loopback (::1)")


@needs_ipv6
def test_ipv6_loopback_bind(tmp_path_factory: pytest.TempPathFactory) -> None:
    with http_server(tmp_path_factory.mktemp("v6"), host="::1") as srv:
        assert srv.base_url.startswith("http://[::1]:")
        r = requests.get(srv.base_url + "/ip", timeout=5)
        assert r.json()["ip"] == "::1" and r.json()["version"] == 6
        r = requests.get(srv.base_url + "/getIP.php", timeout=5)
        assert r.json()["processedString"] == "::1 - localhost IPv6 access"
        r = requests.get(srv.base_url + "/.well-known/nq", timeout=5)
        assert r.json()["urls"]["small_download_url"].startswith(srv.base_url)


@needs_ipv6
def test_dual_stack_serves_ipv4_and_ipv6_and_stops_promptly(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with http_server(tmp_path_factory.mktemp("dual"), host="::") as srv:
        port = srv.http_port
        v4 = requests.get(f"http://127.0.0.1:{port}/ip", timeout=5).json()
        assert v4["ip"] == "127.0.0.1" and v4["version"] == 4  # not ::ffff:127.0.0.1
        v6 = requests.get(f"http://[::1]:{port}/ip", timeout=5).json()
        assert v6["ip"] == "::1"
        r = requests.get(f"http://127.0.0.1:{port}/getIP", timeout=5)
        assert r.json()["processedString"] == "127.0.0.1 - localhost IPv4 access"
        # SIGTERM must not wait for idle keep-alive clients of either family
        idle = [connect(srv, "127.0.0.1"), connect(srv, "::1")]
        for sock in idle:
            sock.sendall(request_bytes("GET", "/health"))
            assert ResponseReader(sock).read()[0] == 200
        half = connect(srv, "127.0.0.1")
        half.sendall(b"GET /heal")  # mid request line: idle too, from the server's view
        start = time.monotonic()
        assert srv.stop() == 0
        assert time.monotonic() - start < 2.0
        for sock in [*idle, half]:
            sock.close()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/7.0\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        (
            b"POST /empty.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nnot hex\r\n0\r\n\r\n",
            400,
        ),
    ],
)
def test_broken_requests_get_json_errors(impatient: LocalServer, raw: bytes, status: int) -> None:
    sock = connect(impatient)
    try:
        sock.sendall(raw)
        code, headers, body = ResponseReader(sock).read()
        assert code == status
        assert headers["content-type"] == "application/json"
        doc = json.loads(body)
        assert doc["status"] == status and doc["error"]
    finally:
        sock.close()


def test_stalled_upload_gets_408_and_close(impatient: LocalServer) -> None:
    sock = connect(impatient)
    try:
        sock.sendall(request_bytes("POST", "/echo", {"Content-Length": "1000"}) + b"x" * 10)
        start = time.monotonic()
        status, headers, body = ResponseReader(sock).read("POST")
        assert status == 408 and headers["connection"].lower() == "close"
        assert "stalled" in json.loads(body)["error"]
        assert 0.8 < time.monotonic() - start < 4
        assert closed_by_peer(sock, within=4)
    finally:
        sock.close()


def test_unread_bodies_are_discarded_within_bounds(impatient: LocalServer) -> None:
    """Endpoints that ignore the body (here a 405) still leave the connection usable."""
    sock = connect(impatient)
    reader = ResponseReader(sock)
    try:
        sock.sendall(request_bytes("POST", "/health", body=b"p" * 3_000_000))
        status, headers, _ = reader.read("POST")
        assert status == 405 and headers["content-type"] == "application/json"
        sock.sendall(request_bytes("GET", "/health"))
        assert reader.read()[0] == 200
        # a declared body far past the discard budget is not waited for: reply, then close
        huge = request_bytes("POST", "/health", {"Content-Length": str(1 << 40)})
        sock.sendall(huge + b"p" * 1000)
        status, _, _ = reader.read("POST")
        assert status == 405
        assert closed_by_peer(sock, within=3)
    finally:
        sock.close()


def test_port_taken_fails_start_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        proc = subprocess.run(
            server_argv("127.0.0.1", {"http": port}),
            capture_output=True,
            timeout=30,
            env=child_env(),
        )
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "cannot start http" in err and "Address already in use" in err
    assert "Traceback" not in err
