"""The TCP echo at its global cap, with the default limits (256 connections, 16 a source):
a table filled from 16+ sources still serves a new source, by shedding one connection of a
source holding the most; a source at its own cap sheds nobody."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.net import wait_until
from tests.support.sockhelp import closed_by_peer, echo_once, tcp_echo_from
from waddleperf.localstack import LocalServer

Factory = Callable[..., LocalServer]
CAP, PER_SOURCE = 256, 16  # the shipped defaults (server/waddleperf_server/vars/base.yml)


@pytest.fixture
def full(server_factory: Factory) -> Iterator[tuple[LocalServer, list[socket.socket]]]:
    """A server whose TCP echo holds CAP connections from 16 sources, each echoing."""
    srv = server_factory(services=("tcp_echo", "http"))
    held: list[socket.socket] = []
    try:
        for s in range(CAP // PER_SOURCE):
            for _ in range(PER_SOURCE):
                sock = tcp_echo_from(srv, f"127.0.1.{s + 1}")
                held.append(sock)
                assert echo_once(sock, b"in") == b"in"  # admitted, counted
        status = srv.health()["services"]["tcp_echo"]
        assert status["active"] == CAP and status["sources"] == CAP // PER_SOURCE
        yield srv, held
    finally:
        for sock in held:
            sock.close()


def test_a_new_source_is_served_at_the_cap(full: tuple[LocalServer, list[socket.socket]]) -> None:
    srv, held = full
    start = time.monotonic()
    with tcp_echo_from(srv, "127.0.2.1") as newcomer:
        newcomer.settimeout(5)
        assert echo_once(newcomer, b"let me in") == b"let me in"
        assert time.monotonic() - start < 2.0
        status = srv.health()["services"]["tcp_echo"]
        assert status["shed"] == 1 and status["rejected"] == 0
        # Exactly one held connection gave way, and all its source's others still echo.
        closed = [sock for sock in held if closed_by_peer(sock, 0.05)]
        assert len(closed) == 1
        victim_source = closed[0].getsockname()[0]
        for sock in held:
            if sock is not closed[0]:
                assert echo_once(sock, b"still") == b"still"
        assert status["sources"] == CAP // PER_SOURCE + 1
    assert victim_source.startswith("127.0.1.")


def test_a_source_at_its_own_cap_sheds_nobody(
    full: tuple[LocalServer, list[socket.socket]],
) -> None:
    srv, held = full
    for _ in range(20):  # an over-cap reconnect loop from a source already holding 16
        with tcp_echo_from(srv, "127.0.1.1") as extra:
            assert closed_by_peer(extra, 3)
    status = srv.health()["services"]["tcp_echo"]
    assert status["shed"] == 0
    assert status["source_rejected"] == 20 and status["rejected"] == 20
    assert not any(closed_by_peer(sock, 0.01) for sock in held)


def test_many_newcomers_even_out_the_shares(
    full: tuple[LocalServer, list[socket.socket]],
) -> None:
    srv, held = full
    newcomers: list[socket.socket] = []
    try:
        for s in range(16):  # 16 more sources, 4 connections each
            for _ in range(4):
                sock = tcp_echo_from(srv, f"127.0.3.{s + 1}")
                newcomers.append(sock)
                assert echo_once(sock, b"n") == b"n"
        status = srv.health()["services"]["tcp_echo"]
        assert status["shed"] == 64 and status["rejected"] == 0
        assert status["sources"] == 32
        # The table is still at its cap, now 16 sources of 12 and 16 of 4: every one of the
        # first sources gave up the same number of connections.
        assert wait_until(lambda: srv.health()["services"]["tcp_echo"]["active"] == CAP, 3)
        lost: dict[str, int] = {}
        for sock in held:
            if closed_by_peer(sock, 0.01):
                source = sock.getsockname()[0]
                lost[source] = lost.get(source, 0) + 1
        assert lost == {f"127.0.1.{s + 1}": 4 for s in range(16)}
    finally:
        for sock in newcomers:
            sock.close()
