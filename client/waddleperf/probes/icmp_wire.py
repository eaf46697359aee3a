"""ICMP / ICMPv6 echo messages: build and parse, checksum. Pure — bytes in, values out.

Payload layout (network byte order): 8-byte send time (Unix ns), 8-byte session cookie,
then a repeating fill pattern up to the requested size. The cookie tells our replies from
those of another ping that happens to share the 16-bit identifier.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
#: "Fragmentation needed" (IPv4: type 3, code 4) and "packet too big" (ICMPv6: type 2).
FRAG_NEEDED = (3, 4)
PACKET_TOO_BIG = 2
#: ICMP errors that quote our request: (version, type) → what it means.
ERRORS = {
    (4, 3): "destination unreachable",
    (4, 11): "time exceeded",
    (6, 1): "destination unreachable",
    (6, 3): "time exceeded",
}
_IPV6_HEADER = 40
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
_STAMP = struct.Struct("!QQ")  # tx_ns, cookie
HEADER_SIZE = _HEADER.size  # 8
MIN_PAYLOAD = _STAMP.size  # 16
MAX_PAYLOAD = 65_000
#: The echo sequence field is 16 bits: request numbers go on the wire modulo this.
SEQ_MODULUS = 1 << 16


#: Raw-socket type filters (Linux): level and option name per IP version.
FILTER_OPTION = {4: (255, 1), 6: (58, 1)}  # (SOL_RAW, ICMP_FILTER), (IPPROTO_ICMPV6, ICMP6_FILTER)


def filter_bytes(version: int) -> bytes:
    """The ICMP(v6) type filter that lets only echo replies and the errors in ``ERRORS``
    through to a raw socket: a bit set is a type blocked (32 bits for ICMP, 256 for ICMPv6).

    Without it a raw socket also receives every echo *request* (on loopback our own, during
    our own send) and every other ICMP message of the host, each waking the receiver.
    """
    allowed = {ECHO_REPLY[version], *(kind for (v, kind) in ERRORS if v == version)}
    words = 1 if version == 4 else 8
    blocked = [0xFFFFFFFF] * words
    for kind in allowed:
        blocked[kind >> 5] &= ~(1 << (kind & 31)) & 0xFFFFFFFF
    return struct.pack(f"={words}I", *blocked)


@dataclass(frozen=True, slots=True)
class EchoMessage:
    """A parsed echo reply: identifier, 16-bit sequence, the payload's send time and cookie."""

    ident: int
    seq: int
    tx_ns: int
    cookie: int
    ttl: int | None


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum (16-bit one's complement of the one's complement sum)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_request(
    version: int, ident: int, seq: int, tx_ns: int, cookie: int, payload_size: int
) -> bytes:
    """An echo request with ``payload_size`` payload bytes and a valid checksum.

    For ICMPv6 the kernel replaces the checksum (it covers a pseudo-header we do not see);
    for unprivileged datagram sockets it also replaces the identifier.
    """
    if not MIN_PAYLOAD <= payload_size <= MAX_PAYLOAD:
        raise ValueError(f"payload size {payload_size} outside {MIN_PAYLOAD}..{MAX_PAYLOAD}")
    fill = bytes(i & 0xFF for i in range(payload_size - MIN_PAYLOAD))
    payload = _STAMP.pack(tx_ns, cookie) + fill
    header = _HEADER.pack(ECHO_REQUEST[version], 0, 0, ident & 0xFFFF, seq & 0xFFFF)
    csum = checksum(header + payload)
    return _HEADER.pack(ECHO_REQUEST[version], 0, csum, ident & 0xFFFF, seq & 0xFFFF) + payload


def parse_reply(version: int, packet: bytes, has_ip_header: bool) -> EchoMessage | None:
    """The echo reply in ``packet``, or None for anything else (requests, errors, garbage).

    ``has_ip_header``: IPv4 raw sockets deliver the IP header first; other sockets do not.
    """
    ttl = None
    if has_ip_header:
        if len(packet) < 20:
            return None
        ihl = (packet[0] & 0x0F) * 4
        ttl = packet[8]
        packet = packet[ihl:]
    if len(packet) < HEADER_SIZE + MIN_PAYLOAD:
        return None
    kind, code, _csum, ident, seq = _HEADER.unpack_from(packet)
    if kind != ECHO_REPLY[version] or code != 0:
        return None
    # ICMPv6 checksums cover a pseudo-header the kernel already checked.
    if version == 4 and checksum(packet) != 0:
        return None
    tx_ns, cookie = _STAMP.unpack_from(packet, HEADER_SIZE)
    return EchoMessage(ident, seq, tx_ns, cookie, ttl)


@dataclass(frozen=True, slots=True)
class IcmpError:
    """An ICMP error about one of our echo requests: what, and the request's ident/seq."""

    what: str
    code: int
    ident: int
    seq: int


def parse_error(version: int, packet: bytes, has_ip_header: bool) -> IcmpError | None:
    """The ICMP error in ``packet`` if it quotes an echo request, else None.

    Errors carry the offending packet's IP header and at least its first 8 bytes, which for an
    echo request are type, code, checksum, identifier and sequence.
    """
    if has_ip_header:
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < HEADER_SIZE:
        return None
    kind, code = packet[0], packet[1]
    what = ERRORS.get((version, kind))
    if what is None:
        return None
    inner = packet[HEADER_SIZE:]
    if version == 4:
        if len(inner) < 20:
            return None
        inner = inner[(inner[0] & 0x0F) * 4 :]
    else:
        inner = inner[_IPV6_HEADER:]
    if len(inner) < HEADER_SIZE or inner[0] != ECHO_REQUEST[version]:
        return None
    _kind, _code, _csum, ident, seq = _HEADER.unpack_from(inner)
    return IcmpError(what, code, ident, seq)


def parse_too_big(version: int, packet: bytes, ident: int) -> tuple[int, int] | None:
    """(sequence, next-hop MTU in bytes) from a fragmentation-needed (IPv4) or packet-too-big
    (ICMPv6) message that quotes our echo request with identifier ``ident``, else None.

    IPv4 raw sockets deliver the IP header; the ICMPv6 socket does not. IPv4 carries the MTU
    in the low 16 bits of the second header word, ICMPv6 in all 32.
    """
    if version == 4:
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]
        if len(packet) < HEADER_SIZE + 20 + HEADER_SIZE or (packet[0], packet[1]) != FRAG_NEEDED:
            return None
        mtu = struct.unpack_from("!H", packet, 6)[0]
        inner = packet[HEADER_SIZE:]
        quoted = inner[(inner[0] & 0x0F) * 4 :]
    else:
        if len(packet) < HEADER_SIZE + _IPV6_HEADER + HEADER_SIZE or packet[0] != PACKET_TOO_BIG:
            return None
        mtu = struct.unpack_from("!I", packet, 4)[0]
        quoted = packet[HEADER_SIZE + _IPV6_HEADER :]
    if len(quoted) < HEADER_SIZE or quoted[0] != ECHO_REQUEST[version]:
        return None
    _kind, _code, _csum, q_ident, q_seq = _HEADER.unpack_from(quoted)
    if q_ident != ident:
        return None
    return q_seq, mtu
