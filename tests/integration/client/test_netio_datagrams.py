"""netio.datagrams on real loopback UDP sockets: timeouts, and a zero timeout that still reads."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from waddleperf.probes.netio import datagrams


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        tx.connect(rx.getsockname())
        yield rx, tx
    finally:
        rx.close()
        tx.close()


def test_zero_timeout_reads_what_is_queued_one_at_a_time(pair):
    rx, tx = pair
    tx.send(b"a")
    tx.send(b"b")
    time.sleep(0.05)  # both queued on the receiving socket
    got = [item[0] for item in datagrams(rx, 0.0, 64) if not isinstance(item, OSError)]
    assert got == [b"a"]  # one poll, one datagram: a flood cannot hold the caller
    got = [item[0] for item in datagrams(rx, 0.0, 64) if not isinstance(item, OSError)]
    assert got == [b"b"]
    assert list(datagrams(rx, 0.0, 64)) == []  # nothing queued: back at once


def test_timeout_bounds_the_wait(pair):
    rx, _ = pair
    started = time.monotonic()
    assert list(datagrams(rx, 0.2, 64)) == []
    assert 0.19 <= time.monotonic() - started < 1.0
