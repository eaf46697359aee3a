"""Run inside a namespace by test_ipv6_prefix.py (``python -m`` this module): a server on
``::`` and clients from two addresses of one IPv6 /64 and one of another /64; prints what
each connection or datagram got, as JSON, for the test to judge."""

from __future__ import annotations

import json
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.httphelp import ResponseReader, request_bytes
from tests.support.server import start_server
from tests.support.sockhelp import drain, udp_socket
from waddleperf_common import udp_wire

SAME_A, SAME_B, OTHER = "2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:3::a"
ADDRESSES = (SAME_A, SAME_B, OTHER)
CONFIG = (
    "http: {workers: 2, max_connections_per_source: 2}\n"
    "tcp_echo: {max_connections_per_source: 2}\n"
    "udp_echo: {rate_limit_pps: 0.5, rate_burst: 2}\n"
)


def _http(port: int, source: str) -> tuple[socket.socket, int]:
    sock = socket.create_connection(("::1", port), 10, source_address=(source, 0))
    sock.sendall(request_bytes("GET", "/backend/empty.php"))
    status, _headers, _body = ResponseReader(sock).read()
    return sock, status


def _tcp(port: int, source: str) -> tuple[socket.socket, bool]:
    sock = socket.create_connection(("::1", port), 10, source_address=(source, 0))
    sock.settimeout(3)
    try:
        sock.sendall(b"x")
        return sock, sock.recv(1) == b"x"
    except OSError:
        return sock, False


def _udp(port: int, source: str, count: int) -> int:
    with udp_socket("::1", bind_to=source) as sock:
        for seq in range(count):
            sock.sendto(udp_wire.encode(seq, seq, size=48), ("::1", port))
        return len(drain(sock, quiet_s=0.5))


def main() -> int:
    """Probe every service; print the outcome."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(Path(tmp), host="::", services=("http", "tcp_echo", "udp_echo"),
                           config_yaml=CONFIG, ready_timeout=60)  # fmt: skip
        held: list[socket.socket] = []
        try:
            # Two connections from two addresses of one /64: its cap of 2 is used up.
            for source in (SAME_A, SAME_B, SAME_A, OTHER):
                sock, status = _http(srv.http_port, source)
                held.append(sock)
                out.setdefault("http", []).append(status)
            for source in (SAME_A, SAME_B, SAME_B, OTHER):
                sock, echoed = _tcp(srv.tcp_echo_port, source)
                held.append(sock)
                out.setdefault("tcp", []).append(echoed)
            out["udp"] = [_udp(srv.udp_echo_port, s, 2) for s in (SAME_A, SAME_B, OTHER)]
            out["health"] = srv.health()["services"]
        finally:
            for sock in held:
                sock.close()
            srv.stop()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
