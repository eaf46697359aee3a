"""ICMP echo (ping) over IPv4 and IPv6.

As root: raw sockets, replies filtered by identifier and cookie (other pings may run at the
same time). Otherwise: unprivileged ICMP datagram sockets, which Linux allows for groups in
net.ipv4.ping_group_range (the kernel then owns the identifier and filters replies for us).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
import threading
import time
from typing import Literal

from pydantic import Field

from waddleperf.probes import icmp_wire, progress
from waddleperf.probes.base import Family, HostTarget, Probe, ProbeOptions, Recording, RunContext
from waddleperf.probes.echo import (
    Reply,
    WireSequences,
    run_session,
    session_status,
    summarize_session,
)
from waddleperf.probes.netio import ResolveError, SockAddr, datagrams, enable_rx_timestamps
from waddleperf.probes.netio import resolve as resolve_host
from waddleperf.probes.targets import parse_host
from waddleperf.results.model import Result, Sample

Mode = Literal["auto", "raw", "dgram"]
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"
MAX_COUNT = 10_000_000


class IcmpOptions(ProbeOptions):
    """Options of the ICMP probe."""

    target: HostTarget = Field(description="Host name or IPv4/IPv6 address.")
    # Not bound by the 16-bit ICMP sequence (it wraps; see WireSequences); the bound only
    # keeps one run's record in memory (a few hundred bytes a reply).
    count: int = Field(default=5, ge=1, le=MAX_COUNT, description="Echo requests to send.")
    interval_s: float = Field(default=1.0, ge=0.001, le=60, description="Between sends.")
    size_bytes: int = Field(
        default=56, ge=icmp_wire.MIN_PAYLOAD, le=icmp_wire.MAX_PAYLOAD, description="Payload bytes."
    )
    mode: Mode = Field(
        default="auto", description="Socket: raw (root / CAP_NET_RAW), dgram (ping_group_range)."
    )
    family: Family = "any"


def open_socket(version: int, mode: Mode) -> tuple[socket.socket, Literal["raw", "dgram"]]:
    """An ICMP socket: raw when root (or asked), else datagram. Raises OSError with advice."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    proto = socket.IPPROTO_ICMP if version == 4 else socket.IPPROTO_ICMPV6
    if mode == "raw" or (mode == "auto" and os.geteuid() == 0):
        try:
            return socket.socket(family, socket.SOCK_RAW, proto), "raw"
        except PermissionError:
            if mode == "raw":
                raise PermissionError("raw ICMP sockets need root (or CAP_NET_RAW)") from None
    try:
        return socket.socket(family, socket.SOCK_DGRAM, proto), "dgram"
    except PermissionError:
        try:
            with open(PING_GROUP_RANGE, encoding="ascii") as fh:
                current = fh.read().strip()
        except OSError:
            current = "unknown"
        group = os.getegid()
        # Root asking for dgram is not helped by "run as root": only the range decides.
        advice = (
            f"widen it to include group {group} (sysctl -w net.ipv4.ping_group_range='0 {group}'), "
            "or use --mode raw"
            if os.geteuid() == 0
            else "run as root (or with CAP_NET_RAW) or widen that range"
        )
        raise PermissionError(
            f"datagram ICMP sockets are not allowed for group {group} "
            f"(net.ipv4.ping_group_range = {current!r}); {advice}"
        ) from None


def install_filter(sock: socket.socket, version: int) -> bool:
    """Let only echo replies and the errors we report reach raw socket ``sock`` (Linux's
    ICMP_FILTER / ICMP6_FILTER, as ping does); False where the kernel refuses it."""
    level, option = icmp_wire.FILTER_OPTION[version]
    try:
        sock.setsockopt(level, option, icmp_wire.filter_bytes(version))
    except OSError:
        return False
    return True


class IcmpTransport:
    """Echo requests out, matching echo replies in, over one ICMP socket."""

    def __init__(
        self,
        sock: socket.socket,
        kind: Literal["raw", "dgram"],
        version: int,
        dest: SockAddr,
        payload_size: int,
        window_s: float = 2.0,
    ) -> None:
        self.sock, self.kind, self.version, self.dest = sock, kind, version, dest
        self.payload_size = payload_size
        # Request numbers go on for ever, the wire's 16-bit sequence wraps: a reply is the
        # answer to the send with its sequence *and* its echoed send time, within window_s.
        self.sequences = WireSequences(int(window_s * 1e9), icmp_wire.SEQ_MODULUS)
        self._lock = threading.Lock()  # send() and receive() run in different threads
        self.cookie = secrets.randbits(64)
        # Datagram sockets: the kernel sets the identifier to the socket's port and filters.
        self.ident = secrets.randbits(16) if kind == "raw" else 0
        self.kernel_stamps = enable_rx_timestamps(sock)
        # Linux refuses a send with MSG_OOB on ICMP sockets (EOPNOTSUPP) before building or
        # sending anything: a dry run through the interpreter's and the kernel's send path.
        self._warm = sys.platform.startswith("linux")
        if kind == "raw":
            install_filter(sock, version)
        self.errors: list[tuple[icmp_wire.IcmpError, str]] = []  # only raw sockets see them

    def send(self, seq: int) -> None:
        """Send echo request number ``seq`` (any size: the wire carries it modulo 2**16).

        The payload carries the time it was built (Unix ns), which only tells this request
        from another with the same wire sequence; the RTT starts at the time taken right
        before ``sendto``, after the packet is built and the send path warmed (see
        docs/probes.md, "Timing"), so no Python work of ours is inside the figure."""
        tx_ns = time.time_ns()
        with self._lock:  # recorded before it leaves: the reply may beat sendto's return
            wire, departure = self.sequences.sending(seq, tx_ns)
        packet = icmp_wire.build_request(
            self.version, self.ident, wire, tx_ns, self.cookie, self.payload_size
        )
        sendto, dest = self.sock.sendto, self.dest
        if self._warm:
            with contextlib.suppress(OSError):  # refused before anything is built or sent
                sendto(packet, socket.MSG_OOB, dest)
        departure[0] = time.time_ns()
        sendto(packet, dest)

    def receive(self, timeout_s: float) -> Reply | None:
        """The next echo reply to this session within ``timeout_s`` seconds, else None."""
        for item in datagrams(self.sock, timeout_s, 65_535):
            if isinstance(item, OSError):
                continue
            data, addr, rx_ns = item
            has_ip = self.kind == "raw" and self.version == 4
            msg = icmp_wire.parse_reply(self.version, data, has_ip)
            if msg is None:
                self._note_error(icmp_wire.parse_error(self.version, data, has_ip), addr)
                continue
            if msg.cookie != self.cookie:
                continue
            if self.kind == "raw" and msg.ident != self.ident:
                continue
            with self._lock:
                found = self.sequences.match_sent(msg.seq, rx_ns, msg.tx_ns)
            if found is None:
                continue  # late (beyond the timeout) or not a request of ours
            index, departed_ns = found
            extra: Sample = {"ttl": msg.ttl} if msg.ttl is not None else {}
            return Reply(index, departed_ns, rx_ns, extra)
        return None

    def _note_error(self, err: icmp_wire.IcmpError | None, addr: SockAddr) -> None:
        # The quoted identifier is ours only for raw sockets; datagram sockets never see these.
        if err is not None and self.kind == "raw" and err.ident == self.ident:
            self.errors.append((err, str(addr[0])))

    def notes(self) -> list[str]:
        """Sentences about ICMP errors routers or hosts sent back for our requests, and
        about replies that came too late to count."""
        notes = []
        if self.errors:
            err, source = self.errors[0]
            notes.append(
                f"{len(self.errors)} ICMP error reports ({err.what}, code {err.code}, "
                f"from {source})"
            )
        if self.sequences.late:
            window_s = self.sequences.window_ns / 1e9
            notes.append(
                f"{self.sequences.late} replies came more than {window_s:g} s after their "
                "request and were not counted"
            )
        return notes


class IcmpProbe(Probe[IcmpOptions]):
    """ICMP echo round-trip times, loss, duplicates and reordering."""

    name = "icmp"
    options_model = IcmpOptions
    summary = "ICMP echo (ping): RTT min/avg/max/mdev/percentiles, loss, duplicates, reordering"

    def run(self, options: IcmpOptions, context: RunContext | None = None) -> Result:
        """Ping ``count`` times; RTTs in ms from the payload's send time to kernel arrival."""
        rec = Recording(self.kind, options, context)
        try:
            addr = resolve_host(parse_host(options.target), 0, socket.SOCK_DGRAM, options.family)
        except ResolveError as exc:
            return rec.failed(str(exc))
        version = 4 if addr.family == socket.AF_INET else 6
        try:
            sock, kind = open_socket(version, options.mode)
        except OSError as exc:
            return rec.failed(f"Cannot open an ICMP socket: {exc}.")
        rec.emit(progress.Start(addr.address, f"{options.size_bytes} bytes, {kind} socket"))
        with sock:
            transport = IcmpTransport(
                sock, kind, version, addr.sockaddr, options.size_bytes, options.timeout_s
            )
            outcome = run_session(
                transport, options.count, options.interval_s, options.timeout_s, rec
            )
        metrics, samples = summarize_session(outcome)
        if kind == "raw":
            metrics["icmp_error_count"] = len(transport.errors)
        status, error = session_status(outcome, metrics, "echo requests", transport.notes())
        info = {
            "address": addr.address,
            "socket": kind,
            "receive_timestamps": "kernel" if transport.kernel_stamps else "user space",
        }
        return rec.finish(status=status, metrics=metrics, error=error, samples=samples, info=info)
