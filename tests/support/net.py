"""Small helpers for tests: free loopback ports and waiting for a service."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from waddleperf.localstack import free_port

__all__ = ["free_port", "tcp_stub", "udp_stub", "wait_until"]


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``check`` until it returns True or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False


UdpHandler = Callable[[socket.socket, bytes, Any], None]


def udp_stub(handle: UdpHandler, host: str = "127.0.0.1") -> Iterator[int]:
    """Body of a fixture: a UDP socket on ``host`` whose every datagram a thread hands to
    ``handle(sock, data, addr)``; yields the port, and stops the thread and closes at the end."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            handle(sock, data, addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def tcp_stub(handle: Callable[[socket.socket], None], host: str = "127.0.0.1") -> Iterator[int]:
    """Body of a fixture: a TCP listener on ``host`` whose every connection a thread hands to
    ``handle(conn)`` and then closes; yields the port, and closes and stops at the end."""
    srv = socket.socket()
    srv.bind((host, 0))
    srv.listen(128)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(srv.getsockname()[1])
    finally:
        srv.close()
        thread.join(5)
