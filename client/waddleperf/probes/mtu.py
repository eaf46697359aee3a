"""Path MTU discovery: the largest packet that reaches the target unfragmented, in bytes.

Method: ICMP echo requests on a raw socket with ``IP_MTU_DISCOVER = IP_PMTUDISC_PROBE`` (IPv6:
``IPV6_MTU_DISCOVER = IPV6_PMTUDISC_PROBE``) — the Don't-Fragment bit set and the kernel's
cached path MTU ignored, so every size really goes out — in a binary search between the
protocol minimum (576 / 1280 bytes) and the MTU of the interface toward the target. A size
*fits* when the echo reply comes back; it is *too big* when a router answers ICMP
fragmentation-needed / packet-too-big (whose next-hop MTU is then tried at once), when the
kernel refuses it (EMSGSIZE), or when nothing answers twice within the timeout (a black hole).
IPv4 cannot carry a packet above 65 535 bytes: when that fits on an interface with a larger
MTU (loopback: 65 536), the path MTU is the interface's. Needs root or CAP_NET_RAW.
"""

from __future__ import annotations

import errno
import fcntl
import secrets
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import Field

from waddleperf.probes import icmp_wire
from waddleperf.probes.base import Family, HostTarget, Probe, ProbeOptions, Recording, RunContext
from waddleperf.probes.netio import ResolveError, SockAddr, describe_errno, resolve
from waddleperf.probes.targets import parse_host
from waddleperf.results.model import MetricValue, Result, Sample, Status

IP_MTU_DISCOVER, IP_PMTUDISC_PROBE, IP_MTU = 10, 3, 14
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE, IPV6_MTU = 23, 3, 24
SIOCGIFMTU, SIOCGIFADDR = 0x8921, 0x8915
MIN_MTU = {4: 576, 6: 1280}
MAX_PACKET = {4: 65_535, 6: 65_575}  # IPv6: 40-byte header + 65 535 payload (no jumbograms)
HEADERS = {4: 20 + icmp_wire.HEADER_SIZE, 6: 40 + icmp_wire.HEADER_SIZE}
FITS, TOO_BIG, TIMEOUT, LOCAL = "fits", "too_big", "timeout", "local_too_big"


class MtuOptions(ProbeOptions):
    """Options of the mtu probe."""

    target: HostTarget = Field(description="Host name or IPv4/IPv6 address.")
    timeout_s: float = Field(default=1.0, gt=0, le=30, description="Wait per probe.")
    attempts: int = Field(default=2, ge=1, le=10, description="Silent tries before too big.")
    max_mtu_bytes: int | None = Field(default=None, ge=576, le=65_575, description="Search cap.")
    family: Family = "any"


@dataclass(frozen=True, slots=True)
class Answer:
    """One probe's outcome, the MTU a router reported (bytes) and the round trip (ms)."""

    outcome: str
    reported_mtu: int | None = None
    rtt_ms: float | None = None


def search(
    low: int, high: int, try_size: Callable[[int], Answer]
) -> tuple[int | None, list[tuple[int, Answer]]]:
    """Binary search for the largest size in [low, high] that fits; None if ``low`` does not.

    ``try_size(size) -> Answer``. A reported next-hop MTU inside the interval is tried next,
    so a path with one narrow link that says so takes four probes, not sixteen.
    """
    tried: list[tuple[int, Answer]] = []

    def attempt(size: int) -> Answer:
        answer = try_size(size)
        tried.append((size, answer))
        return answer

    if attempt(low).outcome != FITS:
        return None, tried
    best, upper = low, high
    candidate, hinted = high, None
    while best < upper:
        answer = attempt(candidate)
        if answer.outcome == FITS:
            best = candidate
            if candidate == hinted:  # a reported MTU that fits: one byte more settles it
                candidate = candidate + 1
                continue
        else:
            upper = candidate - 1
            hint = answer.reported_mtu
            if hint is not None and best < hint <= upper:
                candidate = hinted = hint
                continue
        candidate = (best + upper + 1) // 2
    return best, tried


def interface_mtu(version: int, source: str) -> tuple[str | None, int | None]:
    """Name and MTU of the interface that holds ``source`` (ioctl SIOCGIFMTU); Nones if unknown."""
    name = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        if version == 4:
            for _, ifname in socket.if_nameindex():
                req = struct.pack("16s16x", ifname.encode()[:15])
                try:
                    addr = socket.inet_ntoa(fcntl.ioctl(sock, SIOCGIFADDR, req)[20:24])
                except OSError:
                    continue
                if addr == source:
                    name = ifname
                    break
        else:
            packed = socket.inet_pton(socket.AF_INET6, source.split("%")[0]).hex()
            try:
                # thread-self: a thread may have joined another network namespace (setns).
                with open("/proc/thread-self/net/if_inet6", encoding="ascii") as fh:
                    for line in fh:
                        fields = line.split()
                        if fields and fields[0] == packed:
                            name = fields[-1]
                            break
            except OSError:
                pass
        if name is None:
            return None, None
        res = fcntl.ioctl(sock, SIOCGIFMTU, struct.pack("16si12x", name.encode()[:15], 0))
        return name, int(struct.unpack_from("i", res, 16)[0])


def echo_request(version: int, ident: int, seq: int, cookie: int, size: int) -> bytes:
    """An echo request making a ``size``-byte IP packet (icmp_wire's layout, any size)."""
    base = icmp_wire.build_request(
        version, ident, seq, time.time_ns(), cookie, icmp_wire.MIN_PAYLOAD
    )
    packet = bytearray(base + bytes(max(0, size - HEADERS[version] - icmp_wire.MIN_PAYLOAD)))
    packet[2:4] = b"\x00\x00"
    packet[2:4] = struct.pack("!H", icmp_wire.checksum(bytes(packet)))
    return bytes(packet)


class _Prober:
    """Echo requests of a given size with DF, answers told apart by sequence and cookie."""

    def __init__(self, version: int, dest: SockAddr, options: MtuOptions) -> None:
        family = socket.AF_INET if version == 4 else socket.AF_INET6
        proto = socket.IPPROTO_ICMP if version == 4 else socket.IPPROTO_ICMPV6
        self.sock = socket.socket(family, socket.SOCK_RAW, proto)
        if version == 4:
            self.sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
        else:
            self.sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE)
        self.version, self.dest, self.options = version, dest, options
        self.ident, self.cookie, self.seq = secrets.randbits(16), secrets.randbits(64), 0

    def close(self) -> None:
        self.sock.close()

    def try_size(self, size: int) -> Answer:
        """Send ``size``-byte packets (IP header included) up to ``attempts`` times."""
        for _ in range(self.options.attempts):
            answer = self._once(size)
            if answer.outcome != TIMEOUT:
                return answer
        return Answer(TIMEOUT)

    def _once(self, size: int) -> Answer:
        self.seq = (self.seq + 1) & 0xFFFF
        packet = echo_request(self.version, self.ident, self.seq, self.cookie, size)
        start = time.perf_counter()
        try:
            self.sock.sendto(packet, self.dest)
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                return Answer(LOCAL)
            raise
        deadline = time.monotonic() + self.options.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.sock], [], [], left)[0]:
                break
            data = self.sock.recv(MAX_PACKET[self.version] + 100)
            reply = icmp_wire.parse_reply(self.version, data, self.version == 4)
            if reply is not None and reply.cookie == self.cookie and reply.seq == self.seq:
                return Answer(FITS, rtt_ms=(time.perf_counter() - start) * 1000)
            too_big = icmp_wire.parse_too_big(self.version, data, self.ident)
            if too_big is not None and too_big[0] == self.seq:
                return Answer(TOO_BIG, reported_mtu=too_big[1])
        return Answer(TIMEOUT)


class MtuProbe(Probe[MtuOptions]):
    """The path MTU toward a host, found with DF-marked ICMP echoes (binary search)."""

    name = "mtu"
    options_model = MtuOptions
    summary = "Path MTU discovery (DF set, binary search, frag-needed / packet-too-big honoured)"

    def run(self, options: MtuOptions, context: RunContext | None = None) -> Result:
        """Search the path MTU in bytes (IP header included)."""
        rec = Recording(self.kind, options, context)
        try:
            addr = resolve(parse_host(options.target), 0, socket.SOCK_DGRAM, options.family)
        except ResolveError as exc:
            return rec.failed(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        version = 4 if addr.family == socket.AF_INET else 6
        try:
            with socket.socket(addr.family, socket.SOCK_DGRAM) as udp:
                udp.connect(addr.sockaddr)
                source = str(udp.getsockname()[0])
                route_mtu = udp.getsockopt(
                    socket.IPPROTO_IP if version == 4 else socket.IPPROTO_IPV6,
                    IP_MTU if version == 4 else IPV6_MTU,
                )
        except OSError as exc:
            return rec.failed(f"No usable route to {addr.address}: {describe_errno(exc.errno)}.")
        ifname, if_mtu = interface_mtu(version, source)
        top = if_mtu or route_mtu
        high = min(top, MAX_PACKET[version], options.max_mtu_bytes or top)
        try:
            prober = _Prober(version, addr.sockaddr, options)
        except PermissionError:
            return rec.failed(
                "Path MTU discovery needs raw ICMP sockets: run as root or grant CAP_NET_RAW."
            )
        try:
            best, tried = search(MIN_MTU[version], high, prober.try_size)
        finally:
            prober.close()
        samples: list[Sample] = [
            {"size_bytes": s, "outcome": a.outcome, "reported_mtu_bytes": a.reported_mtu,
             "rtt_ms": a.rtt_ms} for s, a in tried
        ]  # fmt: skip
        reported = [a.reported_mtu for _, a in tried if a.reported_mtu]
        info = {"address": addr.address, "interface": ifname, "method": "icmp-echo-df"}
        metrics: dict[str, MetricValue] = {"probes_count": len(tried)}
        if if_mtu is not None:
            metrics["interface_mtu_bytes"] = if_mtu
        if reported:
            metrics["reported_mtu_bytes"] = min(reported)
        if best is None:
            return rec.finish(
                status=Status.FAILED, metrics={**metrics, "path_mtu_bytes": None}, samples=samples,
                info=info, error=f"Even {MIN_MTU[version]}-byte packets got no echo reply: "
                "the host does not answer ping or the path drops ICMP.",
            )  # fmt: skip
        path = best
        if best == MAX_PACKET[version] and if_mtu and if_mtu > best:
            path = if_mtu  # the protocol, not the path, stopped us
        metrics.update(largest_packet_bytes=best, path_mtu_bytes=path)
        return rec.finish(status=Status.OK, metrics=metrics, samples=samples, info=info)
