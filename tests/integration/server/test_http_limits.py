"""Per-source connection caps, the request head budget and /echo's any-method rule, on a
real server over loopback (127.0.0.0/8 gives several source addresses)."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from tests.support.httphelp import (
    ResponseReader,
    closed_by_peer,
    module_http_server,
    request_bytes,
)
from tests.support.net import wait_until
from waddleperf.localstack import LocalServer

capped = module_http_server(
    "capped",
    "http:\n  request_timeout_s: 20\n  max_connections_per_source: 2\n"
    "  max_request_head_bytes: 4096\n",
)


def _connect_from(srv: LocalServer, source: str) -> socket.socket:
    return socket.create_connection(
        (srv.host, srv.http_port), timeout=5, source_address=(source, 0)
    )


def _get(sock: socket.socket, path: str = "/health") -> tuple[int, dict[str, str], bytes]:
    sock.sendall(request_bytes("GET", path))
    return ResponseReader(sock).read()


def test_source_at_its_cap_gets_429_while_another_is_served(capped: LocalServer) -> None:
    held = [_connect_from(capped, "127.0.0.2") for _ in range(2)]
    try:
        for sock in held:
            assert _get(sock)[0] == 200  # accepted, counted, and kept alive
        with _connect_from(capped, "127.0.0.2") as third:
            third.sendall(request_bytes("GET", "/health"))
            status, headers, body = ResponseReader(third).read()
            assert status == 429
            assert headers["content-type"] == "application/json"
            assert headers["connection"].lower() == "close"
            doc = json.loads(body)
            assert doc["status"] == 429 and "too many connections" in doc["error"]
            assert closed_by_peer(third, within=3)
        start = time.monotonic()
        with _connect_from(capped, "127.0.0.3") as other:
            assert _get(other)[0] == 200
        assert time.monotonic() - start < 1.0
        held.pop().close()  # the cap frees when a connection closes

        def _served_again() -> bool:
            with _connect_from(capped, "127.0.0.2") as sock:
                return _get(sock)[0] == 200

        assert wait_until(_served_again, timeout=3)
    finally:
        for sock in held:
            sock.close()
    status = requests.get(capped.base_url + "/health", timeout=5).json()["services"]["http"]
    assert status["max_connections_per_source"] == 2 and status["source_rejected"] >= 1

    # Entries are removed at zero: only this /health request's own source is left.
    def _only_one_source() -> bool:
        doc = requests.get(capped.base_url + "/health", timeout=5).json()
        return bool(doc["services"]["http"]["sources"] == 1)

    assert wait_until(_only_one_source, timeout=3)


def test_request_head_over_budget_gets_431_and_close(capped: LocalServer) -> None:
    with _connect_from(capped, "127.0.0.4") as sock:
        # Many small headers, each well under http.client's own 64 KiB line limit.
        headers = {f"X-Filler-{i}": "v" * 60 for i in range(80)}
        sock.sendall(request_bytes("GET", "/health", headers))
        status, hdrs, body = ResponseReader(sock).read()
        assert status == 431 and hdrs["content-type"] == "application/json"
        assert json.loads(body) == {"error": "request head too large", "status": 431}
        assert closed_by_peer(sock, within=3)
    with _connect_from(capped, "127.0.0.4") as sock:  # a head under the budget is fine
        sock.sendall(request_bytes("GET", "/health", {"X-Small": "v" * 2000}))
        assert ResponseReader(sock).read()[0] == 200


def test_one_long_header_line_over_budget_gets_431(capped: LocalServer) -> None:
    with _connect_from(capped, "127.0.0.4") as sock:
        sock.sendall(request_bytes("GET", "/health", {"X-Long": "v" * 10_000}))
        assert ResponseReader(sock).read()[0] == 431


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "FROBNICATE", "M-SEARCH", "PURGE"])
def test_echo_accepts_any_token_method(capped: LocalServer, method: str) -> None:
    with _connect_from(capped, "127.0.0.5") as sock:
        reader = ResponseReader(sock)
        sock.sendall(request_bytes(method, "/echo?a=1", body=b"b" * 1000))
        status, headers, body = reader.read(method)
        assert status == 200 and headers["content-type"] == "application/json"
        doc = json.loads(body)
        assert doc["method"] == method and doc["body_bytes"] == 1000
        assert doc["query"] == {"a": ["1"]}
        sock.sendall(request_bytes(method, "/echo?size=5"))  # same connection, still usable
        status, _, body = reader.read(method)
        assert status == 200 and len(body) == 5


def test_echo_any_method_still_bounds_the_body(capped: LocalServer) -> None:
    with _connect_from(capped, "127.0.0.5") as sock:
        sock.sendall(request_bytes("FROBNICATE", "/echo", {"Content-Length": str(1 << 40)}))
        status, _, body = ResponseReader(sock).read("FROBNICATE")
        assert status == 413 and json.loads(body)["status"] == 413


def test_other_paths_keep_their_methods(capped: LocalServer) -> None:
    """Only /echo takes any method; the fast path's empty.php and Flask's routes still 405."""
    for path in ("/empty.php", "/backend/empty.php", "/rpm/small", "/health"):
        with _connect_from(capped, "127.0.0.5") as sock:
            sock.sendall(request_bytes("FROBNICATE", path))
            status, headers, _ = ResponseReader(sock).read("FROBNICATE")
            assert status == 405 and "allow" in headers, path


@pytest.mark.parametrize("method", [b"GE(T", b"G\x01T", b"G\xc3\xa9T"])
def test_method_that_is_not_a_token_is_400(capped: LocalServer, method: bytes) -> None:
    with _connect_from(capped, "127.0.0.5") as sock:
        sock.sendall(method + b" /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = ResponseReader(sock).read()
        assert status == 400 and json.loads(body)["status"] == 400
        assert closed_by_peer(sock, within=3)


chatty = module_http_server("chatty", "log_level: DEBUG\n")


def test_encoded_newline_in_path_cannot_forge_a_log_line(chatty: LocalServer) -> None:
    forged = "2026-01-01T00:00:00 WARNING waddleperf.server.http: forged"
    path = "/nowhere%0A" + forged.replace(" ", "%20") + "%1B[2J"
    with _connect_from(chatty, "127.0.0.1") as sock:
        sock.sendall(request_bytes("GET", path))
        assert ResponseReader(sock).read()[0] == 404
    assert wait_until(lambda: "path=/nowhere\\x0a" in chatty.log(), timeout=3)
    lines = chatty.log().splitlines()
    assert not any(line.startswith(forged[:19]) for line in lines)
    assert not any("\x1b" in line for line in lines)
