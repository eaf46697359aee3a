"""``--bind ::`` (one socket per service, IPV6_V6ONLY off) serving ::1 and 127.0.0.1 at the
same time, for HTTP (with its workers), TCP echo and UDP echo; an IPv4 client counted as
its IPv4 address, never as ``::ffff:…``, and apart from the IPv6 one."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator

import pytest

from tests.support.httphelp import ResponseReader, request_bytes
from tests.support.sockhelp import drain, recv_exact, udp_socket
from waddleperf.localstack import LocalServer
from waddleperf_common import udp_wire

Factory = Callable[..., LocalServer]
CLIENTS = ("::1", "127.0.0.1")
CONFIG = (
    "http: {workers: 2, max_connections_per_source: 2}\n"
    "tcp_echo: {max_connections_per_source: 2}\n"
    "udp_echo: {rate_limit_pps: 1, rate_burst: 3}\n"
)


@pytest.fixture(scope="module")
def dual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server bound to ``::`` with HTTP, TCP echo and UDP echo."""
    from tests.support.server import start_server

    srv = start_server(
        tmp_path_factory.mktemp("dual"),
        host="::",
        services=("http", "tcp_echo", "udp_echo"),
        config_yaml=CONFIG,
        ready_timeout=60,
    )
    try:
        yield srv
    finally:
        srv.stop()
    assert "Traceback" not in srv.log()


def _http(client: str, port: int) -> socket.socket:
    return socket.create_connection((client, port), timeout=10)


def _get(sock: socket.socket, path: str) -> tuple[int, bytes]:
    sock.sendall(request_bytes("GET", path))
    status, _headers, body = ResponseReader(sock).read()
    return status, body


def test_http_serves_both_families_at_once_each_with_its_own_cap(dual: LocalServer) -> None:
    held = {client: [_http(client, dual.http_port) for _ in range(2)] for client in CLIENTS}
    try:
        for client, socks in held.items():
            for sock in socks:
                status, body = _get(sock, "/ip")
                assert status == 200
                assert json.loads(body)["ip"] == client  # 127.0.0.1, not ::ffff:127.0.0.1
        for client in CLIENTS:  # the third connection of either is over its own cap
            with _http(client, dual.http_port) as third:
                assert _get(third, "/backend/empty.php")[0] == 429
        # Asked from a third address: ::1 and 127.0.0.1 are both at their cap.
        with socket.create_connection(
            ("127.0.0.1", dual.http_port), 10, source_address=("127.0.0.9", 0)
        ) as sock:
            status, body = _get(sock, "/health")
        assert status == 200
        health = json.loads(body)["services"]["http"]
        assert health["source_rejected"] == 2 and health["sources"] == 3
    finally:
        for socks in held.values():
            for sock in socks:
                sock.close()


def test_tcp_echo_serves_both_families_each_with_its_own_cap(dual: LocalServer) -> None:
    held = {c: [socket.create_connection((c, dual.tcp_echo_port), 10) for _ in range(2)]
            for c in CLIENTS}  # fmt: skip
    try:
        for client, socks in held.items():
            for sock in socks:
                sock.sendall(client.encode())
                assert recv_exact(sock, len(client)) == client.encode()
        before = dual.health()["services"]["tcp_echo"]
        assert before["sources"] == 2
        for client in CLIENTS:
            with socket.create_connection((client, dual.tcp_echo_port), 10) as third:
                third.settimeout(3)
                assert third.recv(1) == b""  # closed at once: over this source's cap
        after = dual.health()["services"]["tcp_echo"]
        assert after["source_rejected"] - before["source_rejected"] == 2
    finally:
        for socks in held.values():
            for sock in socks:
                sock.close()


def test_udp_echo_answers_both_families_each_with_its_own_bucket(dual: LocalServer) -> None:
    before = dual.health()["services"]["udp_echo"]
    for client in CLIENTS:
        with udp_socket(client) as sock:
            for seq in range(5):  # a burst of 3 allowed, then the bucket is dry
                sock.sendto(udp_wire.encode(seq, seq, size=48), (client, dual.udp_echo_port))
            replies = drain(sock, expect=3)
        assert sorted(udp_wire.decode(r).seq for r in replies) == [0, 1, 2], client
    after = dual.health()["services"]["udp_echo"]
    assert after["dropped_by_reason"]["rate"] - before["dropped_by_reason"]["rate"] == 4
    assert after["tracked_sources"] == 2  # ::ffff:127.0.0.1 counted as 127.0.0.1
