"""Small socket helpers shared by probes: name resolution, receive timestamps, errno meaning.

Receive times come from the kernel (SO_TIMESTAMPNS, CLOCK_REALTIME) where Linux offers it,
so a reply is timestamped when it arrived, not when Python got round to reading it; send
times are therefore taken from the same clock (time.time_ns()).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from waddleperf.probes.targets import Endpoint, Host, parse_endpoint

_SO_TIMESTAMPNS = 35  # Linux asm-generic value; Python does not export it
_TIMESPEC = struct.Struct("@qq")
Family = Literal["any", "ipv4", "ipv6"]
SockAddr = tuple[str, int] | tuple[str, int, int, int]

#: Attempt outcomes told apart by errno, as used in samples and counts.
REFUSED, TIMEOUT, UNREACHABLE, ERROR = "refused", "timeout", "unreachable", "error"
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


class ResolveError(OSError):
    """A host name did not resolve; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """One address a host resolved to, and how long resolving took."""

    family: socket.AddressFamily
    sockaddr: SockAddr
    elapsed_ns: int

    @property
    def address(self) -> str:
        """The IP address as text."""
        return self.sockaddr[0]


def resolve(host: Host, port: int, socktype: int, family: Family = "any") -> Resolved:
    """The first address of ``host`` for ``socktype``; times the lookup (ns, monotonic)."""
    fam = {"any": socket.AF_UNSPEC, "ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}[family]
    start = time.perf_counter_ns()
    try:
        infos = socket.getaddrinfo(host.name, port, fam, socktype)
    except socket.gaierror as exc:
        raise ResolveError(f"could not resolve {host.name!r}: {exc.strerror}") from None
    elapsed = time.perf_counter_ns() - start
    if not infos:
        raise ResolveError(f"{host.name!r} has no {family} address")
    af, _, _, _, sockaddr = infos[0]
    return Resolved(af, sockaddr, elapsed)  # type: ignore[arg-type]


def resolve_endpoint(
    target: str, default_port: int | None, socktype: int, family: Family = "any"
) -> tuple[Endpoint, Resolved]:
    """``target`` (``host[:port]``, ``default_port`` when it names none) and its first address.

    Raises TargetError (a ValueError) for a malformed target, ResolveError when it does not
    resolve.
    """
    endpoint = parse_endpoint(target, default_port)
    return endpoint, resolve(endpoint.host, endpoint.port, socktype, family)


def enable_rx_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp received datagrams; False where it cannot (then user space)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def recv_stamped(sock: socket.socket, bufsize: int) -> tuple[bytes, SockAddr, int]:
    """One datagram, its sender and its arrival time (Unix ns, kernel stamp when available)."""
    data, ancdata, _flags, addr = sock.recvmsg(bufsize, socket.CMSG_SPACE(_TIMESPEC.size))
    rx_ns = time.time_ns()
    for level, ctype, cdata in ancdata:
        if level == socket.SOL_SOCKET and ctype == _SO_TIMESTAMPNS and len(cdata) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(cdata)
            rx_ns = sec * 1_000_000_000 + nsec
    return data, addr, rx_ns


def datagrams(
    sock: socket.socket, timeout_s: float, bufsize: int
) -> Iterator[tuple[bytes, SockAddr, int] | OSError]:
    """Datagrams arriving within ``timeout_s`` seconds, each with sender and arrival time (ns).

    An error the kernel reports for one datagram (ICMP port unreachable on a connected UDP
    socket: ConnectionRefusedError) is yielded, not raised, so the caller can count it and
    keep listening.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        # A timeout of 0 (or one that ran out) still polls once: what is queued is read.
        if not select.select([sock], [], [], max(0.0, left))[0]:
            return
        try:
            yield recv_stamped(sock, bufsize)
        except ConnectionRefusedError as exc:
            yield exc
        if left <= 0:
            return


def classify_errno(code: int | None) -> str:
    """refused / timeout / unreachable / error for an errno from connect or send."""
    if code == errno.ECONNREFUSED:
        return REFUSED
    if code in (errno.ETIMEDOUT, errno.EAGAIN):
        return TIMEOUT
    if code in _UNREACHABLE:
        return UNREACHABLE
    return ERROR


def describe_errno(code: int | None) -> str:
    """A short human phrase for an errno, e.g. ``connection refused (ECONNREFUSED)``."""
    if code is None:
        return "unknown error"
    name = errno.errorcode.get(code, str(code))
    return f"{os.strerror(code).lower()} ({name})"
