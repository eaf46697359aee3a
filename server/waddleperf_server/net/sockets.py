"""Socket helpers shared by the services: binding (alone, or as a reuseport group of
listeners for worker processes), adopting a listener a worker inherited, draining."""

from __future__ import annotations

import socket
from typing import Any

import gevent
from gevent import socket as gsocket

# Listeners handed to this process by its supervisor, by (bind, port, kind): bind_socket
# returns one of these instead of binding anew, as a socket-activated service would.
_inherited: dict[tuple[str, int, int], Any] = {}


# A burst of connections (a slowloris tool reopening its sockets) must not overflow the accept
# queue: the kernel then drops the handshake's last ACK and every client in the burst, the
# legitimate ones too, waits for a retransmission (200 ms at least). The kernel caps this at
# net.core.somaxconn. Accepting many per wake-up drains a burst quickly; admission is cheap.
LISTEN_BACKLOG = 8192


def inherit(bind: str, port: int, kind: socket.SocketKind, fd: int) -> None:
    """Adopt the already bound (and listening) socket ``fd`` as what the next
    ``bind_socket(bind, port, kind)`` in this process returns."""
    _inherited[(bind, port, int(kind))] = gsocket.socket(fileno=fd)


def _new_socket(bind: str, kind: socket.SocketKind, reuseport: bool) -> Any:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = gsocket.socket(family, kind)
    if kind == socket.SOCK_STREAM:
        # Lets a restarted server rebind while old connections sit in TIME_WAIT; it does
        # not let two live listeners share a port on Linux.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6 and bind == "::":
        # Explicit, because the system default (net.ipv6.bindv6only) may say otherwise.
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    return sock


def bind_socket(bind: str, port: int, kind: socket.SocketKind, backlog: int = 128) -> Any:
    """A bound (and, for TCP, listening) gevent socket; ``::`` means dual stack. A listener
    this process inherited for that address (:func:`inherit`) is returned instead.

    Raises OSError when the address cannot be had (port taken, address not local).
    """
    adopted = _inherited.pop((bind, port, int(kind)), None)
    if adopted is not None:
        return adopted
    sock = _new_socket(bind, kind, reuseport=False)
    try:
        sock.bind((bind, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def reuseport_listeners(bind: str, port: int, count: int, backlog: int) -> list[Any]:
    """``count`` TCP listeners sharing ``bind``:``port`` (SO_REUSEPORT), in group order.

    The port is first bound alone (no SO_REUSEPORT) and released: a port another process
    listens on, even one that would have joined the group (the same user's second server),
    is an error here (EADDRINUSE) rather than a silently shared port.
    """
    probe = bind_socket(bind, port, socket.SOCK_STREAM, backlog=1)
    port = int(probe.getsockname()[1])  # port 0: the kernel's pick, for all of them
    probe.close()
    listeners: list[Any] = []
    try:
        for _ in range(count):
            sock = _new_socket(bind, socket.SOCK_STREAM, reuseport=True)
            listeners.append(sock)
            sock.bind((bind, port))
            sock.listen(backlog)  # one at a time: the group's order is the binding order
    except OSError:
        for sock in listeners:
            sock.close()
        raise
    return listeners


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
