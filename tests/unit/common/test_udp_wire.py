"""The UDP probe datagram format: round trips, every rejection path, HMAC, reply length."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waddleperf_common import udp_wire as w

KEY = b"k" * 32


def test_round_trip_without_key() -> None:
    data = w.encode(seq=7, client_tx_ns=123456789, size=100)
    assert len(data) == 100
    dg = w.decode(data)
    assert (dg.seq, dg.client_tx_ns, dg.server_rx_ns) == (7, 123456789, 0)
    assert not dg.is_reply and not dg.authenticated and dg.size == 100


def test_round_trip_with_key() -> None:
    data = w.encode(seq=2**64 - 1, client_tx_ns=2**64 - 1, size=200, key=KEY)
    dg = w.decode(data, KEY)
    assert dg.authenticated and dg.seq == 2**64 - 1 and dg.size == 200


def test_smallest_and_largest_sizes() -> None:
    assert len(w.encode(1, 1)) == w.HEADER_SIZE
    assert len(w.encode(1, 1, key=KEY)) == w.HEADER_SIZE + w.HMAC_SIZE
    assert len(w.encode(1, 1, size=w.MAX_DATAGRAM)) == w.MAX_DATAGRAM


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": w.HEADER_SIZE - 1}, "outside"),
        ({"size": w.HEADER_SIZE, "key": KEY}, "outside"),
        ({"size": w.MAX_DATAGRAM + 1}, "outside"),
        ({"seq": -1}, "64 unsigned"),
        ({"seq": 2**64}, "64 unsigned"),
        ({"client_tx_ns": 2**64}, "64 unsigned"),
    ],
)
def test_encode_rejects(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"seq": 1, "client_tx_ns": 1, "size": 64} | kwargs
    with pytest.raises(w.WireError, match=message):
        w.encode(**args)  # type: ignore[arg-type]


def _header(magic: bytes = w.MAGIC, version: int = w.VERSION, flags: int = 0) -> bytes:
    return struct.pack("!4sBBHQQQ", magic, version, flags, 0, 1, 2, 0)


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        (b"", None, "truncated"),
        (_header()[:-1], None, "truncated"),
        (bytes(w.MAX_DATAGRAM + 1), None, "oversized"),
        (_header(magic=b"XXXX"), None, "bad magic"),
        (_header(version=2), None, "unsupported version"),
        (_header(flags=w.FLAG_HMAC) + bytes(31), None, "too short"),
        (_header() + bytes(32), KEY, "absent"),
        (_header(flags=w.FLAG_HMAC) + bytes(32), KEY, "mismatch"),
    ],
)
def test_decode_rejects(data: bytes, key: bytes | None, message: str) -> None:
    with pytest.raises(w.WireError, match=message):
        w.decode(data, key)


def test_wrong_key_and_tampering_are_rejected() -> None:
    data = w.encode(5, 6, size=80, key=KEY)
    with pytest.raises(w.WireError, match="mismatch"):
        w.decode(data, b"other")
    tampered = bytearray(data)
    tampered[40] ^= 1
    with pytest.raises(w.WireError, match="mismatch"):
        w.decode(bytes(tampered), KEY)


def test_signed_request_decodes_without_key() -> None:
    dg = w.decode(w.encode(5, 6, size=80, key=KEY))
    assert not dg.authenticated and dg.size == 80


@pytest.mark.parametrize("key", [None, KEY])
@pytest.mark.parametrize("size", [64, 65, 1400, 9000])
def test_reply_same_length_and_fields(key: bytes | None, size: int) -> None:
    request = w.encode(seq=42, client_tx_ns=1000, size=size, key=key)
    reply = w.make_reply(request, server_rx_ns=2000, key=key)
    assert len(reply) == len(request)
    dg = w.decode(reply, key)
    assert dg.is_reply and (dg.seq, dg.client_tx_ns, dg.server_rx_ns) == (42, 1000, 2000)
    assert dg.authenticated is (key is not None)


def test_reply_is_never_echoed() -> None:
    reply = w.make_reply(w.encode(1, 2, size=64), 3)
    with pytest.raises(w.WireError, match="never echoed"):
        w.make_reply(reply, 4)


def test_keyless_reply_to_signed_request_does_not_claim_hmac() -> None:
    request = w.encode(1, 2, size=96, key=KEY)
    reply = w.make_reply(request, 3)
    assert len(reply) == 96
    assert not reply[5] & w.FLAG_HMAC
    with pytest.raises(w.WireError, match="absent"):
        w.decode(reply, KEY)


def test_reply_requires_valid_hmac_when_keyed() -> None:
    with pytest.raises(w.WireError):
        w.make_reply(w.encode(1, 2, size=96), 3, KEY)
    with pytest.raises(w.WireError):
        w.make_reply(w.encode(1, 2, size=96, key=b"wrong"), 3, KEY)


@given(st.binary(max_size=300), st.sampled_from([None, KEY]))
def test_decode_random_bytes_raises_only_wire_error(data: bytes, key: bytes | None) -> None:
    for candidate in (data, w.MAGIC + bytes([w.VERSION]) + data):
        try:
            dg = w.decode(candidate, key)
        except w.WireError:
            continue
        assert dg.size == len(candidate)


@given(st.binary(min_size=0, max_size=300))
def test_make_reply_never_grows(data: bytes) -> None:
    candidate = w.MAGIC + bytes([w.VERSION, 0]) + data
    try:
        reply = w.make_reply(candidate, 1)
    except w.WireError:
        return
    assert len(reply) == len(candidate)


@pytest.mark.parametrize("key", [None, KEY])
@pytest.mark.parametrize("size", [None, 200])
def test_rate_drop_query_and_its_answer(key: bytes | None, size: int | None) -> None:
    query = w.encode(seq=7, client_tx_ns=1000, size=size, key=key, tally=True)
    assert w.is_tally_query(query) and not w.is_tally_query(w.encode(7, 1000, key=key))
    dg = w.decode(query, key)
    assert dg.is_tally and not dg.is_reply and dg.rate_dropped is None
    answer = w.make_tally_reply(query, 53, key)
    assert len(answer) == len(query)  # never more bytes out than in
    got = w.decode(answer, key)
    assert got.is_reply and got.is_tally and (got.seq, got.client_tx_ns) == (7, 1000)
    assert got.rate_dropped == 53 and got.authenticated is (key is not None)
    assert not w.is_tally_query(answer)  # an answer is a reply, never a query


def test_queries_and_echo_requests_are_not_confused() -> None:
    query = w.encode(1, 2, tally=True)
    with pytest.raises(w.WireError, match="make_tally_reply"):
        w.make_reply(query, 3)
    with pytest.raises(w.WireError, match="not a rate-drop query"):
        w.make_tally_reply(w.encode(1, 2), 3)
    with pytest.raises(w.WireError, match="never echoed"):
        w.make_tally_reply(w.make_tally_reply(query, 3), 4)
    with pytest.raises(w.WireError, match="64 unsigned bits"):
        w.make_tally_reply(query, -1)
    # a plain echo reply carries no count, whatever its receive time
    assert w.decode(w.make_reply(w.encode(1, 2), 99)).rate_dropped is None
    assert not w.is_tally_query(b"WPRB\x01")  # too short to have flags


def test_keyed_answer_needs_an_authentic_query() -> None:
    with pytest.raises(w.WireError):
        w.make_tally_reply(w.encode(1, 2, tally=True), 3, KEY)
    with pytest.raises(w.WireError):
        w.make_tally_reply(w.encode(1, 2, key=b"wrong", tally=True), 3, KEY)
