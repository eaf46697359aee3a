"""The TCP echo against a real server on loopback: integrity, timeouts, limits, memory."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.net import wait_until
from tests.support.sockhelp import (
    closed_by_peer,
    echo_once,
    recv_exact,
    shared_server,
    tcp_echo_from,
)
from waddleperf.localstack import LocalServer

Factory = Callable[..., LocalServer]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One TCP echo with default limits for the tests that need no config."""
    yield from shared_server(tmp_path_factory, services=("tcp_echo",))


def _tcp_server(
    factory: Factory, config: str | None = None, with_http: bool = False
) -> LocalServer:
    services = ("tcp_echo", "http") if with_http else ("tcp_echo",)
    return factory(services=services, config_yaml=config)


def _connect(srv: LocalServer) -> socket.socket:
    sock = socket.create_connection((srv.host, srv.tcp_echo_port), timeout=10)
    return sock


def test_large_random_payload_comes_back_intact(shared: LocalServer) -> None:
    srv = shared
    payload = os.urandom(16 << 20)
    with _connect(srv) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        echoed = recv_exact(sock, len(payload))
        sender.join()
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()


def test_idle_connection_is_closed(server_factory: Factory) -> None:
    srv = _tcp_server(server_factory, "tcp_echo: {idle_timeout_s: 0.5}\n")
    with _connect(srv) as sock:
        assert echo_once(sock, b"hi") == b"hi"
        start = time.monotonic()
        assert closed_by_peer(sock, within=5)
        assert 0.3 <= time.monotonic() - start < 3


def test_excess_connection_closed_while_others_work(server_factory: Factory) -> None:
    srv = _tcp_server(server_factory, "tcp_echo: {max_connections: 3}\n", with_http=True)
    socks = [_connect(srv) for _ in range(3)]
    try:
        for i, sock in enumerate(socks):
            assert echo_once(sock, b"x%d" % i) == b"x%d" % i
        with _connect(srv) as fourth:
            assert closed_by_peer(fourth, within=3)
        for i, sock in enumerate(socks):
            assert echo_once(sock, b"again%d" % i) == b"again%d" % i
    finally:
        for sock in socks:
            sock.close()
    # A slot freed by a closed connection is usable again.
    assert wait_until(lambda: _echo_after_connect(srv), timeout=3)
    status = srv.health()["services"]["tcp_echo"]
    assert status["rejected"] == 1 and status["total"] >= 4


def _echo_after_connect(srv: LocalServer) -> bool:
    with _connect(srv) as sock:
        sock.settimeout(1)
        try:
            return echo_once(sock, b"back") == b"back"
        except (AssertionError, OSError):
            return False


def test_connection_closed_after_byte_limit(server_factory: Factory) -> None:
    limit = 100_000
    srv = _tcp_server(server_factory, f"tcp_echo: {{max_bytes_per_connection: {limit}}}\n")
    with _connect(srv) as sock:
        sock.sendall(os.urandom(limit + 50_000))
        got = 0
        while chunk := sock.recv(65536):
            got += len(chunk)
    assert got == limit


def test_slow_reader_does_not_grow_server_memory(shared: LocalServer) -> None:
    srv = shared
    proc = psutil.Process(srv.proc.pid)
    rss_before = proc.memory_info().rss
    chunk = bytes(1 << 20)
    sent = 0
    with _connect(srv) as sock:
        sock.settimeout(0.5)  # a blocked send means the server pushed back
        deadline = time.monotonic() + 4
        try:
            while sent < 200 << 20 and time.monotonic() < deadline:
                sent += sock.send(chunk)
        except TimeoutError:
            pass
        rss_during = proc.memory_info().rss
    assert sent < 200 << 20, "the server swallowed 200 MB from a client that never reads"
    assert rss_during - rss_before < 32 << 20


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(st.binary(min_size=1, max_size=100_000), min_size=1, max_size=4))
def test_fuzz_payloads_echo_exactly(shared: LocalServer, payloads: list[bytes]) -> None:
    with _connect(shared) as sock:
        for payload in payloads:
            assert echo_once(sock, payload) == payload


@pytest.mark.parametrize("host", ["::1", "::"])
def test_ipv6_and_dual_stack(server_factory: Factory, host: str) -> None:
    srv = server_factory(services=("tcp_echo",), host=host)
    for target in ["::1"] if host == "::1" else ["::1", "127.0.0.1"]:
        with socket.create_connection((target, srv.tcp_echo_port), timeout=5) as sock:
            assert echo_once(sock, b"v6?") == b"v6?"


def test_per_source_cap_refuses_one_source_and_serves_another(server_factory: Factory) -> None:
    srv = _tcp_server(server_factory, "tcp_echo: {max_connections_per_source: 2}\n", with_http=True)
    held = [tcp_echo_from(srv, "127.0.0.2") for _ in range(2)]
    try:
        for i, sock in enumerate(held):
            assert echo_once(sock, b"h%d" % i) == b"h%d" % i  # accepted and counted
        with tcp_echo_from(srv, "127.0.0.2") as third:
            assert closed_by_peer(third, within=3)
        start = time.monotonic()
        with tcp_echo_from(srv, "127.0.0.3") as other:
            assert echo_once(other, b"still served") == b"still served"
        assert time.monotonic() - start < 1.0
        status = srv.health()["services"]["tcp_echo"]
        assert status["source_rejected"] == 1 and status["rejected"] == 1
        held.pop().close()  # the cap frees when a connection closes

        def _served_again() -> bool:
            with tcp_echo_from(srv, "127.0.0.2") as sock:
                sock.settimeout(1)
                try:
                    return echo_once(sock, b"back") == b"back"
                except (AssertionError, OSError):
                    return False

        assert wait_until(_served_again, timeout=3)
    finally:
        for sock in held:
            sock.close()
    # Entries go when their count reaches zero: the table is empty once everyone has left.
    assert wait_until(lambda: srv.health()["services"]["tcp_echo"]["sources"] == 0, timeout=3)


def test_trickling_connection_is_closed_at_its_lifetime(server_factory: Factory) -> None:
    srv = _tcp_server(
        server_factory, "tcp_echo: {idle_timeout_s: 5, max_lifetime_s: 1}\n", with_http=True
    )
    with _connect(srv) as sock:
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 5:
            try:
                sock.sendall(b"t")
                sock.settimeout(1)
                if sock.recv(1) == b"":
                    closed = True
                    break
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            time.sleep(0.2)  # well inside the idle timeout: only the lifetime ends this
        assert closed
        assert 0.8 < time.monotonic() - start < 3
    assert srv.health()["services"]["tcp_echo"]["lifetime_closed"] == 1
