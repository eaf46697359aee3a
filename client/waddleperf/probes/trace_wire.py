"""Traceroute probes with a constant flow identifier (Paris traceroute), built and dissected with
scapy. Pure: no sockets here — bytes out, replies in.

Per-flow load balancers hash the fields a flow is known by; if a probe changed them between
TTLs, each TTL could take another path and the trace would join hops that are not one path.
So every probe of a run keeps those fields and carries its identity elsewhere:

- UDP: addresses, ports and protocol fixed; the probe id is the UDP *checksum*, reached by
  choosing two payload bytes (checksum compensation). Routers quote the first 8 bytes of the
  UDP header in time-exceeded, so the id comes back; the checksum is not hashed.
- ICMP echo: type, code, identifier and *checksum* fixed (the 4 bytes balancers read where
  ports would be); the sequence number carries the id and two payload bytes compensate it.
- TCP SYN: addresses and ports fixed; the id rides in the sequence number (a SYN-ACK or RST
  acknowledges it + 1, a time-exceeded quotes it).

IPv6 probes also keep the flow label constant (RFC 6437 balancers hash it). Replies are told
apart by what they quote or echo, never by arrival order.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Literal

from scapy.compat import raw
from scapy.layers.inet import ICMP, IP, TCP, UDP, ICMPerror, IPerror, TCPerror, UDPerror
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.packet import Raw

Mode = Literal["icmp", "udp", "tcp"]
PAYLOAD_BYTES = 24  # after the 2 compensation bytes; mtr's default packet is 64 bytes in all
ICMP_CHECKSUM = 0x5AD0  # the constant ICMP checksum of a run (any non-zero value works)
FILL = bytes(range(0x40, 0x40 + PAYLOAD_BYTES))


def ones_sum(data: bytes) -> int:
    """One's complement sum of 16-bit big-endian words (odd length padded with a zero)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def compensation_word(covered_sum: int, wanted_checksum: int) -> int:
    """The 16-bit word that, added to data whose one's complement sum is ``covered_sum`` (with
    the checksum field zero), makes the Internet checksum come out as ``wanted_checksum``.

    checksum = ~(covered + word) ⇒ word = ~checksum − covered, in one's complement arithmetic.
    """
    target = ~wanted_checksum & 0xFFFF
    word = target + (~covered_sum & 0xFFFF)
    while word >> 16:
        word = (word & 0xFFFF) + (word >> 16)
    return word


def _pseudo_header(src: str, dst: str, proto: int, length: int) -> bytes:
    """The IPv4 or IPv6 pseudo-header a UDP/TCP/ICMPv6 checksum covers."""
    if ":" in dst:
        addrs = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        return addrs + struct.pack("!I3xB", length, proto)
    addrs = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
    return addrs + struct.pack("!BBH", 0, proto, length)


@dataclass(frozen=True, slots=True)
class Flow:
    """What stays constant for a run: addresses, mode, ports (UDP/TCP), ICMP identifier."""

    mode: Mode
    src: str
    dst: str
    sport: int
    dport: int
    ident: int
    tcp_seq_base: int = 0

    @property
    def v6(self) -> bool:
        """True for an IPv6 flow (its flow label is constant too: the identifier)."""
        return ":" in self.dst


def udp_checksum_for(probe_id: int) -> int:
    """The UDP checksum that names probe ``probe_id`` (never 0, which means "no checksum")."""
    return (probe_id % 0xFFFE) + 1


def build_probe(flow: Flow, ttl: int, probe_id: int) -> bytes:
    """One probe with TTL / hop limit ``ttl`` identified by ``probe_id`` (0..65533)."""
    ip: IP | IPv6
    if flow.v6:
        ip = IPv6(src=flow.src, dst=flow.dst, hlim=ttl, fl=flow.ident)
    else:
        ip = IP(src=flow.src, dst=flow.dst, ttl=ttl, id=probe_id & 0xFFFF)
    length = 8 + 2 + PAYLOAD_BYTES
    if flow.mode == "udp":
        header = struct.pack("!HHHH", flow.sport, flow.dport, length, 0)
        covered = ones_sum(_pseudo_header(flow.src, flow.dst, 17, length) + header + FILL)
        word = compensation_word(covered, udp_checksum_for(probe_id))
        payload = struct.pack("!H", word) + FILL
        pkt = ip / UDP(sport=flow.sport, dport=flow.dport, chksum=udp_checksum_for(probe_id))
        return raw(pkt / Raw(payload))
    if flow.mode == "icmp":
        seq = probe_id & 0xFFFF
        kind = 128 if flow.v6 else 8
        # ICMPv6 checksums cover a pseudo-header; ICMPv4 ones do not.
        pseudo = _pseudo_header(flow.src, flow.dst, 58, length) if flow.v6 else b""
        covered = ones_sum(pseudo + struct.pack("!BBHHH", kind, 0, 0, flow.ident, seq) + FILL)
        payload = struct.pack("!H", compensation_word(covered, ICMP_CHECKSUM)) + FILL
        if flow.v6:
            echo6 = ICMPv6EchoRequest(id=flow.ident, seq=seq, cksum=ICMP_CHECKSUM, data=payload)
            return raw(ip / echo6)
        pkt = ip / ICMP(type=8, code=0, id=flow.ident, seq=seq, chksum=ICMP_CHECKSUM)
        return raw(pkt / Raw(payload))
    seq = (flow.tcp_seq_base + probe_id) & 0xFFFFFFFF
    tcp = TCP(sport=flow.sport, dport=flow.dport, flags="S", seq=seq, window=64240,
              options=[("MSS", 1460)])  # fmt: skip
    return raw(ip / tcp)


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply matched to a probe: who answered, and whether it was the destination itself."""

    probe_id: int
    address: str
    final: bool  # the destination answered (echo reply, port unreachable, SYN-ACK/RST)
    icmp_type: int | None
    icmp_code: int | None


def _id_from_quote(flow: Flow, inner: IPerror) -> int | None:
    if inner.dst != flow.dst:
        return None
    if flow.mode == "udp" and inner.haslayer(UDPerror):
        udp = inner[UDPerror]
        if (udp.sport, udp.dport) != (flow.sport, flow.dport) or not udp.chksum:
            return None
        return int(udp.chksum) - 1
    if flow.mode == "icmp" and inner.haslayer(ICMPerror):
        icmp = inner[ICMPerror]
        if icmp.type != 8 or icmp.id != flow.ident:
            return None
        return int(icmp.seq)
    if flow.mode == "tcp" and inner.haslayer(TCPerror):
        tcp = inner[TCPerror]
        if (tcp.sport, tcp.dport) != (flow.sport, flow.dport):
            return None
        return (int(tcp.seq) - flow.tcp_seq_base) & 0xFFFFFFFF
    return None


def parse_reply(flow: Flow, packet: bytes) -> Reply | None:
    """The probe a received IPv4 packet answers, or None when it answers none of ours."""
    try:
        ip = IP(packet)
    except Exception:
        return None
    if ip.dst != flow.src:
        return None
    if ip.haslayer(ICMP):
        icmp = ip[ICMP]
        kind, code = int(icmp.type), int(icmp.code)
        if kind == 0 and flow.mode == "icmp":
            if icmp.id != flow.ident or ip.src != flow.dst:
                return None
            return Reply(int(icmp.seq), ip.src, True, kind, code)
        if kind in (11, 3) and ip.haslayer(IPerror):
            probe_id = _id_from_quote(flow, ip[IPerror])
            if probe_id is None:
                return None
            final = kind == 3 and ip.src == flow.dst
            return Reply(probe_id, ip.src, final, kind, code)
        return None
    if flow.mode == "tcp" and ip.haslayer(TCP) and ip.src == flow.dst:
        tcp = ip[TCP]
        flags = int(tcp.flags)
        # Our own SYN, looped back on a local target, has the ports the other way round.
        if (tcp.sport, tcp.dport) != (flow.dport, flow.sport) or not flags & 0x14:
            return None  # neither RST (0x04) nor ACK (0x10)
        return Reply((int(tcp.ack) - 1 - flow.tcp_seq_base) & 0xFFFFFFFF, ip.src, True, None, None)
    return None


def _id_from_quote6(flow: Flow, quoted: bytes) -> int | None:
    """The probe id in an ICMPv6 error's quote: our IPv6 header (40 bytes) + 8 bytes."""
    if len(quoted) < 48 or quoted[24:40] != socket.inet_pton(socket.AF_INET6, flow.dst):
        return None
    next_header, l4 = quoted[6], quoted[40:48]
    if flow.mode == "udp" and next_header == 17:
        sport, dport, _len, csum = struct.unpack("!HHHH", l4)
        ok = (sport, dport) == (flow.sport, flow.dport) and csum
        return int(csum) - 1 if ok else None
    if flow.mode == "icmp" and next_header == 58:
        kind, _code, _csum, ident, seq = struct.unpack("!BBHHH", l4)
        return int(seq) if kind == 128 and ident == flow.ident else None
    if flow.mode == "tcp" and next_header == 6:
        sport, dport, tcp_seq = struct.unpack("!HHI", l4)
        if (sport, dport) != (flow.sport, flow.dport):
            return None
        return (int(tcp_seq) - flow.tcp_seq_base) & 0xFFFFFFFF
    return None


def parse_reply6(flow: Flow, data: bytes, source: str, proto: int) -> Reply | None:
    """The probe an IPv6 reply answers. Raw IPv6 sockets give no IP header: ``data`` is the
    ICMPv6 message (``proto`` 58) or TCP segment (6), ``source`` who sent it."""
    try:
        from_target = socket.inet_pton(socket.AF_INET6, source.split("%")[0]) == (
            socket.inet_pton(socket.AF_INET6, flow.dst)
        )
    except OSError:
        return None
    if proto == 58 and len(data) >= 8:
        kind, code = data[0], data[1]
        if kind == 129 and flow.mode == "icmp":
            ident, seq = struct.unpack_from("!HH", data, 4)
            ok = ident == flow.ident and from_target
            return Reply(seq, source, True, kind, code) if ok else None
        if kind in (1, 3):  # destination unreachable, time exceeded
            probe_id = _id_from_quote6(flow, data[8:])
            if probe_id is None:
                return None
            return Reply(probe_id, source, kind == 1 and from_target, kind, code)
        return None
    if proto == 6 and flow.mode == "tcp" and len(data) >= 14 and from_target:
        sport, dport, _seq, ack = struct.unpack_from("!HHII", data)
        if (sport, dport) != (flow.dport, flow.sport) or not data[13] & 0x14:
            return None
        return Reply((ack - 1 - flow.tcp_seq_base) & 0xFFFFFFFF, source, True, None, None)
    return None
