"""ICMP checksum, request building, reply, error and too-big parsing against known bytes."""

from __future__ import annotations

import struct

import pytest

from waddleperf.probes import icmp_wire


def test_checksum_rfc1071_example():
    # RFC 1071 §3 example words: 0001 f203 f4f5 f6f7 → sum ddf2, checksum 220d
    assert icmp_wire.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_checksum_odd_length_and_verifies_to_zero():
    data = b"\x08\x00\x00\x00\x12\x34\x00\x01abc"
    csum = icmp_wire.checksum(data)
    patched = data[:2] + struct.pack("!H", csum) + data[4:]
    assert icmp_wire.checksum(patched) == 0


def test_build_request_layout():
    pkt = icmp_wire.build_request(4, 0x1234, 7, 123456789, 42, 56)
    assert len(pkt) == 8 + 56
    assert pkt[0] == 8 and pkt[1] == 0
    assert struct.unpack("!HH", pkt[4:8]) == (0x1234, 7)
    assert icmp_wire.checksum(pkt) == 0
    assert icmp_wire.build_request(6, 1, 1, 0, 0, 16)[0] == 128


def test_build_request_size_bounds():
    with pytest.raises(ValueError):
        icmp_wire.build_request(4, 1, 1, 0, 0, 15)


def _as_reply(request: bytes, version: int) -> bytes:
    body = bytes([icmp_wire.ECHO_REPLY[version], 0, 0, 0]) + request[4:]
    csum = icmp_wire.checksum(body)
    return body[:2] + struct.pack("!H", csum) + body[4:]


def test_parse_reply_v4_with_ip_header():
    reply = _as_reply(icmp_wire.build_request(4, 99, 3, 5_000, 77, 32), 4)
    ip = bytes([0x45, 0, 0, 0, 0, 0, 0, 0, 63, 1]) + bytes(10)
    msg = icmp_wire.parse_reply(4, ip + reply, has_ip_header=True)
    assert msg == icmp_wire.EchoMessage(99, 3, 5_000, 77, 63)


def test_parse_reply_rejects_requests_bad_checksum_and_short():
    req = icmp_wire.build_request(4, 1, 1, 0, 0, 16)
    assert icmp_wire.parse_reply(4, req, has_ip_header=False) is None
    reply = bytearray(_as_reply(req, 4))
    reply[-1] ^= 0xFF
    assert icmp_wire.parse_reply(4, bytes(reply), has_ip_header=False) is None
    assert icmp_wire.parse_reply(4, b"\x00" * 8, has_ip_header=False) is None


def test_parse_reply_v6_skips_checksum():
    reply = bytearray(_as_reply(icmp_wire.build_request(6, 5, 9, 1, 2, 16), 6))
    reply[2:4] = b"\xab\xcd"  # kernel-verified pseudo-header checksum: not ours to check
    msg = icmp_wire.parse_reply(6, bytes(reply), has_ip_header=False)
    assert msg is not None and (msg.ident, msg.seq, msg.ttl) == (5, 9, None)


def _ipv4_header(proto: int = 1) -> bytes:
    return bytes([0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto]) + bytes(10)


def test_parse_error_v4_quotes_our_request():
    request = icmp_wire.build_request(4, 0x4242, 17, 1, 2, 16)
    error = bytes([3, 1, 0, 0, 0, 0, 0, 0]) + _ipv4_header() + request[:8]
    got = icmp_wire.parse_error(4, _ipv4_header() + error, has_ip_header=True)
    assert got == icmp_wire.IcmpError("destination unreachable", 1, 0x4242, 17)


def test_parse_error_v6_and_non_errors():
    request = icmp_wire.build_request(6, 7, 9, 1, 2, 16)
    error = bytes([3, 0, 0, 0, 0, 0, 0, 0]) + bytes(40) + request[:8]
    got = icmp_wire.parse_error(6, error, has_ip_header=False)
    assert got is not None and (got.what, got.ident, got.seq) == ("time exceeded", 7, 9)
    assert icmp_wire.parse_error(6, request, has_ip_header=False) is None  # not an error
    # an error quoting something other than an echo request
    other = bytes([1, 4, 0, 0, 0, 0, 0, 0]) + bytes(40) + bytes([135]) + bytes(7)
    assert icmp_wire.parse_error(6, other, has_ip_header=False) is None
    assert icmp_wire.parse_error(4, b"\x03\x01", has_ip_header=False) is None


def _too_big_v4(ident: int, seq: int, mtu: int) -> bytes:
    quoted_ip = bytes([0x45]) + bytes(19)
    quoted = quoted_ip + struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + quoted
    return bytes([0x45]) + bytes(19) + icmp


def test_parse_frag_needed_v4():
    assert icmp_wire.parse_too_big(4, _too_big_v4(0xBEEF, 7, 1400), 0xBEEF) == (7, 1400)
    assert icmp_wire.parse_too_big(4, _too_big_v4(0xBEEF, 7, 1400), 0x1111) is None


def test_parse_packet_too_big_v6():
    quoted = bytes(40) + struct.pack("!BBHHH", 128, 0, 0, 0x42, 9)
    pkt = struct.pack("!BBHI", 2, 0, 0, 1280) + quoted
    assert icmp_wire.parse_too_big(6, pkt, 0x42) == (9, 1280)
    assert icmp_wire.parse_too_big(6, b"\x01" + pkt[1:], 0x42) is None


def test_parse_too_big_rejects_what_is_not_ours():
    ours = _too_big_v4(0xBEEF, 7, 1400)
    assert icmp_wire.parse_too_big(4, ours[: 20 + 8 + 20 + 7], 0xBEEF) is None  # quote cut short
    assert icmp_wire.parse_too_big(4, ours[:19], 0xBEEF) is None
    unreachable = ours[:21] + b"\x01" + ours[22:]  # type 3 code 1: host unreachable
    assert icmp_wire.parse_too_big(4, unreachable, 0xBEEF) is None
    reply_quoted = ours[:48] + b"\x00" + ours[49:]  # quotes an echo reply, not our request
    assert icmp_wire.parse_too_big(4, reply_quoted, 0xBEEF) is None
    v6 = struct.pack("!BBHI", 2, 0, 0, 1280) + bytes(40) + struct.pack("!BBHHH", 128, 0, 0, 1, 2)
    assert icmp_wire.parse_too_big(6, v6[:-1], 1) is None
    assert icmp_wire.parse_too_big(6, v6, 1) == (2, 1280)
    assert icmp_wire.parse_too_big(6, v6, 3) is None


@pytest.mark.parametrize("version", [4, 6])
def test_raw_filter_passes_echo_replies_and_reported_errors_only(version: int) -> None:
    data = icmp_wire.filter_bytes(version)
    words = struct.unpack(f"={len(data) // 4}I", data)
    assert len(words) == (1 if version == 4 else 8)

    def passes(kind: int) -> bool:
        return not words[kind >> 5] & (1 << (kind & 31))

    allowed = {kind for kind in range(32 * len(words)) if passes(kind)}
    errors = {kind for (v, kind) in icmp_wire.ERRORS if v == version}
    assert allowed == {icmp_wire.ECHO_REPLY[version], *errors}
    assert icmp_wire.ECHO_REQUEST[version] not in allowed  # our own requests stay out
