"""Socket and process helpers for the server integration tests (loopback only)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psutil
import pytest

from tests.support.server import start_server
from waddleperf.localstack import LocalServer, child_env, waddleperf_command


def shared_server(factory: pytest.TempPathFactory, **kwargs: Any) -> Iterator[LocalServer]:
    """Body of a module-scoped fixture: one server for several tests, stopped at the end."""
    srv = start_server(factory.mktemp("server"), **kwargs)
    try:
        yield srv
    finally:
        srv.stop()


def udp_socket(host: str = "127.0.0.1", bind_to: str | None = None) -> socket.socket:
    """A UDP client socket of the right family, optionally bound to a source address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    if bind_to is not None:
        sock.bind((bind_to, 0))
    return sock


def udp_kernel_drops(port: int) -> int:
    """Datagrams the kernel dropped (receive buffer full) on every UDP socket bound to ``port``.

    Read from the ``drops`` column of /proc/net/udp and /proc/net/udp6, summed over the
    sockets of a SO_REUSEPORT group: losses that are not the server's doing.
    """
    total = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table, encoding="ascii") as fh:
                lines = fh.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) >= 13 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                total += int(fields[-1])
    return total


def drain(
    sock: socket.socket, quiet_s: float = 0.3, expect: int | None = None, wait_s: float = 2.0
) -> list[bytes]:
    """Every datagram that arrives until none has come for ``quiet_s`` seconds.

    With ``expect``, wait up to ``wait_s`` for that many, then only ``quiet_s`` for extras.
    """
    out: list[bytes] = []
    while True:
        sock.settimeout(wait_s if expect is not None and len(out) < expect else quiet_s)
        try:
            out.append(sock.recv(65535))
        except TimeoutError:
            return out


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly ``n`` bytes from a stream socket (fails on early EOF)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        assert chunk, f"EOF after {len(buf)} of {n} bytes"
        buf += chunk
    return bytes(buf)


def children_named(pid: int, name: str) -> list[psutil.Process]:
    """Live (non-zombie) children of ``pid`` called ``name``."""
    try:
        kids = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    return [k for k in kids if _alive(k) and k.name() == name]


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        return not _alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run_server_cli(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    """Run ``waddleperf server ARGS`` to completion (for start-up failures)."""
    return subprocess.run(
        [*waddleperf_command(), "server", *args],
        capture_output=True,
        text=True,
        env=child_env(env),
        timeout=timeout,
        check=False,
    )


def elapsed_since(start: float) -> float:
    """Seconds on the monotonic clock since ``start``."""
    return time.monotonic() - start


def echo_once(sock: socket.socket, payload: bytes) -> bytes:
    """Send ``payload`` on a TCP echo connection and read exactly as many bytes back."""
    sock.sendall(payload)
    return recv_exact(sock, len(payload))


def closed_by_peer(sock: socket.socket, within: float) -> bool:
    """True when the peer closes (or resets) ``sock`` within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def tcp_echo_from(srv: LocalServer, source: str) -> socket.socket:
    """A connection to ``srv``'s TCP echo from ``source`` (any 127.0.0.0/8 address is local)."""
    return socket.create_connection(
        (srv.host, srv.tcp_echo_port), timeout=10, source_address=(source, 0)
    )
