"""Socket helpers shared by the TCP and UDP echo services."""

from __future__ import annotations

import socket
from typing import Any

import gevent
from gevent import socket as gsocket


def bind_socket(bind: str, port: int, kind: socket.SocketKind, backlog: int = 128) -> Any:
    """A bound (and, for TCP, listening) gevent socket; ``::`` means dual stack.

    Raises OSError when the address cannot be had (port taken, address not local).
    """
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = gsocket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            # Lets a restarted server rebind while old connections sit in TIME_WAIT; it does
            # not let two live listeners share a port on Linux.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and bind == "::":
            # Explicit, because the system default (net.ipv6.bindv6only) may say otherwise.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((bind, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def describe(address: Any) -> str:
    """A peer address as ``host:port`` for log lines."""
    try:
        host, port = address[0], address[1]
    except (TypeError, IndexError):
        return str(address)
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def discard_incoming(sock: Any, seconds: float, max_bytes: int) -> None:
    """Read and drop what the peer still sends, for at most ``seconds`` s or ``max_bytes`` B.

    Used after a half-close: closing with unread data makes the kernel send RST, which can
    destroy the last reply before the peer reads it. Socket errors end the wait quietly.
    """
    scratch = bytearray(min(max_bytes, 64 * 1024) or 1)
    taken = 0
    try:
        with gevent.Timeout(seconds, False):
            while taken < max_bytes:
                n = sock.recv_into(scratch)
                if n == 0:
                    return
                taken += n
    except OSError:
        pass
