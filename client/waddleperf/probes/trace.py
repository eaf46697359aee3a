"""Traceroute in the manner of mtr: several rounds, per-hop loss and RTT, constant flow id.

Each round sends one probe per TTL (1 … the destination's TTL once known, else max_hops) at
once, then collects replies for up to ``timeout_s``; rounds are ``interval_s`` apart. Probes
are built by trace_wire (Paris-style constant flow identifier) and sent on a raw socket with
IP_HDRINCL / IPV6_HDRINCL, so our TTL, IP id, flow label and checksums go out untouched;
replies are read from raw ICMP / ICMPv6 (and for TCP mode raw TCP) sockets with kernel receive
timestamps, matched by what they quote. Raw sockets need root or CAP_NET_RAW.

Reverse names (off by default) are looked up in daemon threads with one overall deadline, so
a resolver that never answers (a lab has no PTR records) costs at most ``name_timeout_s``.
"""

from __future__ import annotations

import contextlib
import ctypes
import secrets
import select
import socket
import struct
import threading
import time
from dataclasses import replace
from typing import Literal

from pydantic import Field

from waddleperf.probes import progress
from waddleperf.probes.base import Family, HostTarget, Probe, ProbeOptions, Recording, RunContext
from waddleperf.probes.netio import (
    ResolveError,
    describe_errno,
    enable_rx_timestamps,
    recv_stamped,
    resolve,
)
from waddleperf.probes.targets import parse_host
from waddleperf.probes.trace_stats import Hop, Observation, destination_ttl, hop_rows, trace_metrics
from waddleperf.probes.trace_wire import Flow, build_probe, parse_reply, parse_reply6
from waddleperf.results.model import Result, Scalar, Status

DEFAULT_PORTS = {"udp": 33434, "tcp": 80, "icmp": 0}


class TraceOptions(ProbeOptions):
    """Options of the trace probe."""

    target: HostTarget = Field(description="Host name or IPv4/IPv6 address.")
    mode: Literal["icmp", "udp", "tcp"] = Field(default="icmp", description="Probe packets.")
    rounds: int = Field(default=5, ge=1, le=100, description="Probes per hop.")
    max_hops: int = Field(default=30, ge=1, le=64, description="Highest TTL.")
    port: int | None = Field(default=None, ge=1, le=65_535, description="udp 33434, tcp 80.")
    timeout_s: float = Field(default=2.0, gt=0, le=30, description="Wait for replies, per round.")
    interval_s: float = Field(default=0.5, ge=0, le=60, description="Pause between rounds.")
    resolve_names: bool = Field(default=False, description="Reverse DNS names of the hops.")
    name_timeout_s: float = Field(default=2.0, gt=0, le=30, description="For all names.")
    family: Family = "any"


_SO_ATTACH_FILTER = 26
IPV6_HDRINCL = 36  # Linux; Python does not export it
_FILTER_INSN = struct.Struct("=HBBI")
RCVBUF_BYTES = 1 << 21


def tcp_reply_filter(sport: int, dport: int, ip_header: bool = True) -> bytes:
    """Classic BPF that keeps only TCP segments from port ``dport`` to port ``sport``.

    ``ip_header``: IPv4 raw sockets see the IP header first; IPv6 ones start at TCP.

    A raw TCP socket gets a copy of every TCP segment the host receives; on a busy host (a
    loopback throughput test next door) that floods the buffer and replies get dropped.
    """
    insns = [
        (0xB1, 0, 0, 0) if ip_header else (0x01, 0, 0, 0),  # x = IP header length, or ldx #0
        (0x48, 0, 0, 0),  # ldh [x+0]: source port
        (0x15, 0, 3, dport),  # jeq dport, else drop
        (0x48, 0, 0, 2),  # ldh [x+2]: destination port
        (0x15, 0, 1, sport),  # jeq sport, else drop
        (0x06, 0, 0, 0xFFFF),  # accept
        (0x06, 0, 0, 0),  # drop
    ]
    return b"".join(_FILTER_INSN.pack(*insn) for insn in insns)


def attach_filter(sock: socket.socket, program: bytes) -> None:
    """Attach a classic BPF ``program`` (packed sock_filter array) to ``sock``."""
    buf = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(program) // _FILTER_INSN.size, ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


def source_address(dst: str) -> str:
    """The local address the kernel would use toward ``dst`` (a UDP connect sends nothing)."""
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((dst, 9))
        return str(sock.getsockname()[0])


def reverse_names(addresses: list[str], timeout_s: float) -> dict[str, str]:
    """PTR names of ``addresses`` found within ``timeout_s`` seconds overall (others absent)."""
    found: dict[str, str] = {}

    def look(addr: str) -> None:
        with contextlib.suppress(OSError):
            found[addr] = socket.gethostbyaddr(addr)[0]

    threads = [threading.Thread(target=look, args=(a,), daemon=True) for a in set(addresses)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return dict(found)


class _Tracer:
    """Raw sockets of one run; closes them on exit."""

    def __init__(self, flow: Flow, mode: str) -> None:
        self.flow = flow
        family = socket.AF_INET6 if flow.v6 else socket.AF_INET
        self.send_sock = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
        if flow.v6:
            # Linux ≥ 4.5: we write the IPv6 header ourselves (hop limit, flow label).
            self.send_sock.setsockopt(socket.IPPROTO_IPV6, IPV6_HDRINCL, 1)
        icmp = socket.IPPROTO_ICMPV6 if flow.v6 else socket.IPPROTO_ICMP
        self.recv = [socket.socket(family, socket.SOCK_RAW, icmp)]
        if mode == "tcp":
            tcp = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_TCP)
            attach_filter(tcp, tcp_reply_filter(flow.sport, flow.dport, not flow.v6))
            self.recv.append(tcp)
        for sock in self.recv:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
            enable_rx_timestamps(sock)

    def close(self) -> None:
        for sock in [self.send_sock, *self.recv]:
            sock.close()

    def round(
        self, index: int, limit: int, max_hops: int, timeout_s: float, dst: str
    ) -> list[Observation]:
        """Send TTL 1 … ``limit`` once and collect replies; one Observation per probe.

        Every probe of the round is built before the first is sent, so the first read follows
        the last send by a few system calls, not by scapy building the rest (up to 30 probes,
        milliseconds each on a loaded machine). When no other socket on the host wants receive
        stamps, the kernel switches stamping on by deferred work, and replies that arrive
        before that are stamped when read: building between sends put up to 180 ms into hop 1's
        first-round RTT on a loaded lab machine.
        """
        ids = {index * max_hops + ttl - 1: ttl for ttl in range(1, limit + 1)}
        packets = {probe_id: build_probe(self.flow, ttl, probe_id) for probe_id, ttl in ids.items()}
        sent: dict[int, tuple[int, int]] = {}  # probe id → (ttl, tx ns)
        for probe_id, ttl in ids.items():
            sent[probe_id] = (ttl, time.time_ns())
            self.send_sock.sendto(packets[probe_id], (dst, 0))
        replies: dict[int, Observation] = {}
        deadline = time.monotonic() + timeout_s
        final_ttl = limit + 1
        while (left := deadline - time.monotonic()) > 0:
            pending = [p for p, (ttl, _) in sent.items() if p not in replies and ttl < final_ttl]
            if not pending:
                break
            readable, _, _ = select.select(self.recv, [], [], left)
            for sock in readable:
                data, addr, rx_ns = recv_stamped(sock, 65_535)
                if self.flow.v6:
                    reply = parse_reply6(self.flow, data, str(addr[0]), sock.proto)
                else:
                    reply = parse_reply(self.flow, data)
                if reply is None or reply.probe_id not in sent or reply.probe_id in replies:
                    continue
                ttl, tx_ns = sent[reply.probe_id]
                replies[reply.probe_id] = Observation(
                    index, ttl, reply.address, (rx_ns - tx_ns) / 1e6, reply.final
                )
                if reply.final:
                    final_ttl = min(final_ttl, ttl)
        return [replies.get(p, Observation(index, ttl)) for p, (ttl, _) in sent.items()]


def hop_events(seen: list[Observation], rounds: int) -> list[progress.Hop]:
    """The live lines of one round: every TTL up to the first that reached the destination."""
    final = min((o.ttl for o in seen if o.final), default=None)
    return [
        progress.Hop(o.round, rounds, o.ttl, o.address, o.rtt_ms, o.final)
        for o in sorted(seen, key=lambda o: o.ttl)
        if final is None or o.ttl <= final
    ]


def _status(rows: list[Hop], reached: bool, max_hops: int) -> tuple[Status, str | None]:
    if not rows:
        return Status.FAILED, "No hop answered any probe (filtered, or the host is down)."
    if not reached:
        return Status.DEGRADED, f"The destination did not answer within {max_hops} hops."
    if rows[-1].loss_pct > 0:
        return Status.DEGRADED, f"{rows[-1].loss_pct:g} % of probes to the destination were lost."
    return Status.OK, None


class TraceProbe(Probe[TraceOptions]):
    """The path hop by hop: address, loss and RTT per hop over several rounds (mtr style)."""

    name = "trace"
    options_model = TraceOptions
    summary = "Traceroute (mtr style, Paris flow id): per-hop address, loss %, RTT; ICMP/UDP/TCP"

    def run(self, options: TraceOptions, context: RunContext | None = None) -> Result:
        """Trace ``rounds`` times; RTTs in ms from send to kernel arrival of the reply."""
        rec = Recording(self.kind, options, context)
        try:
            addr = resolve(parse_host(options.target), 0, socket.SOCK_DGRAM, options.family)
        except ResolveError as exc:
            return rec.failed(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        dst = addr.address
        port = options.port or DEFAULT_PORTS[options.mode]
        try:
            src = source_address(dst)
        except OSError as exc:
            return rec.failed(f"No usable route to {dst}: {describe_errno(exc.errno)}.")
        flow = Flow(
            mode=options.mode, src=src, dst=dst,
            sport=33_000 + secrets.randbelow(28_000), dport=port,
            ident=secrets.randbits(16), tcp_seq_base=secrets.randbits(32),
        )  # fmt: skip
        try:
            tracer = _Tracer(flow, options.mode)
        except PermissionError:
            return rec.failed("Trace needs raw sockets: run as root or grant CAP_NET_RAW.")
        observations: list[Observation] = []
        try:
            for index in range(options.rounds):
                if index:
                    time.sleep(options.interval_s)
                dest = destination_ttl(observations)
                limit = dest if dest is not None else options.max_hops
                round_seen = tracer.round(index, limit, options.max_hops, options.timeout_s, dst)
                observations += round_seen
                rec.progress(index + 1, options.rounds)
                if rec.live:
                    for event in hop_events(round_seen, options.rounds):
                        rec.emit(event)
        except KeyboardInterrupt as exc:
            rec.interrupt(exc)
        finally:
            tracer.close()
        dest = destination_ttl(observations)
        rows = hop_rows(observations, options.max_hops)
        if options.resolve_names:
            names = reverse_names([r.address for r in rows if r.address], options.name_timeout_s)
            rows = [replace(r, name=names.get(r.address or "")) for r in rows]
        status, error = _status(rows, dest is not None, options.max_hops)
        metrics = trace_metrics(rows, dest is not None)
        if error is None and any(v is None for v in metrics.values()):
            error = "Some figures are null: the destination gave no round-trip time."
        info: dict[str, Scalar] = {"address": dst, "source": flow.src, "mode": options.mode}
        if options.mode == "icmp":
            info["flow_icmp_id"] = flow.ident
        else:
            info.update(flow_sport=flow.sport, flow_dport=flow.dport)
        return rec.finish(
            status=status,
            metrics=metrics,
            error=error,
            samples=[r.sample() for r in rows],
            info=info,
        )
