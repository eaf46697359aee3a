"""The strict request-head parser: every rule with the byte that breaks it, and a
differential check against h11 (a head we accept, h11 accepts with the same meaning)."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waddleperf_server.http import chunks, framing
from waddleperf_server.http.framing import FramingError, parse_head


def _head(*fields: str | bytes, line: bytes = b"POST /backend/empty.php HTTP/1.1") -> bytes:
    raw = [f.encode("latin-1") if isinstance(f, str) else f for f in fields]
    return b"\r\n".join([line, b"Host: x", *raw]) + b"\r\n\r\n"


def _rejects(data: bytes, status: int, words: str) -> None:
    with pytest.raises(FramingError) as info:
        parse_head(data)
    assert info.value.status == status, info.value.message
    assert words in info.value.message


def test_a_plain_request() -> None:
    head = parse_head(_head("Content-Length: 5", "X-A: 1", "x-a:  2 \t"))
    assert (head.method, head.path, head.version) == ("POST", "/backend/empty.php", "HTTP/1.1")
    assert head.fields == [("Host", "x"), ("Content-Length", "5"), ("X-A", "1"), ("x-a", "2")]
    assert head.content_length == 5 and not head.chunked and head.keep_alive
    assert not head.expect_continue and head.authority is None


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        # the smuggling cases: CL and TE together, TE other than one final chunked
        (["Content-Length: 40", "Transfer-Encoding: chunked"], 400, "both Content-Length"),
        (["Transfer-Encoding: chunked", "Content-Length: 4"], 400, "both Content-Length"),
        (["Transfer-Encoding: gzip, chunked", "Content-Length: 4"], 400, "both"),
        (["Transfer-Encoding: gzip, chunked"], 501, "'gzip' is not supported"),
        (["Transfer-Encoding: xchunked"], 501, "'xchunked' is not supported"),
        (["Transfer-Encoding: identity"], 501, "'identity' is not supported"),
        (["Transfer-Encoding: chunked, identity"], 400, "final coding"),
        (["Transfer-Encoding: chunked, chunked"], 400, "final coding"),
        (["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], 400, "final coding"),
        (["Transfer-Encoding: chunked;x=1"], 400, "no parameters"),
        (["Transfer-Encoding: ,"], 400, "empty Transfer-Encoding"),
        (['Transfer-Encoding: "chunked"'], 400, "malformed Transfer-Encoding"),
        (["Transfer-Encoding : chunked"], 400, "whitespace before the colon"),
        (["Transfer-Encoding\t: chunked"], 400, "whitespace before the colon"),
        (["Content-Length : 3"], 400, "whitespace before the colon"),
        # Content-Length: digits only, once (even the same value twice: strict)
        (["Content-Length: +10"], 400, "'+10': not a decimal"),
        (["Content-Length: 1_0"], 400, "'1_0'"),
        (["Content-Length: -1"], 400, "not a decimal"),
        (["Content-Length: 0x10"], 400, "not a decimal"),
        (["Content-Length: 1 0"], 400, "not a decimal"),
        (["Content-Length: 1e3"], 400, "not a decimal"),
        (["Content-Length: "], 400, "not a decimal"),
        (["Content-Length: 5, 5"], 400, "not a decimal"),
        (["Content-Length: ١٠".encode()], 400, "not a decimal"),
        (["Content-Length: \xa010"], 400, "not a decimal"),
        (["Content-Length: " + "9" * 19], 400, "not a decimal"),
        (["Content-Length: 5", "Content-Length: 10"], 400, "more than one Content-Length"),
        (["Content-Length: 5", "Content-Length: 5"], 400, "more than one Content-Length"),
        (["Content-Length: 5", "content-length: 5"], 400, "more than one Content-Length"),
        # bare CR / LF, NUL and control characters, obs-fold
        ([b"X: a\rb"], 400, "bare CR"),
        ([b"X: a\rY: b"], 400, "bare CR"),
        ([b"X: a\nY: b"], 400, "bare LF"),
        ([b"X: a\x00b"], 400, "control character 0x00 in the value of X"),
        ([b"X: a\x01b"], 400, "control character 0x01"),
        ([b"X: a\x1bb"], 400, "control character 0x1b"),
        ([b"X: a\x7fb"], 400, "control character 0x7f"),
        ([b"X: a\x0bb"], 400, "control character 0x0b"),
        ([b"X: a\x0cb"], 400, "control character 0x0c"),
        (["X: b", " c"], 400, "obs-fold"),
        (["X: b", "\tc"], 400, "obs-fold"),
        # field names
        (["X Y: 1"], 400, "invalid field name"),
        (["X(Y): 1"], 400, "invalid field name"),
        (["X\x00: 1"], 400, "invalid field name"),
        ([": 1"], 400, "invalid field name"),
        (["no colon"], 400, "without a colon"),
        (["Hé: 1"], 400, "invalid field name"),
        # Host
        (["Host: y"], 400, "more than one Host"),
    ],
)
def test_rejected_fields(fields: list[str | bytes], status: int, words: str) -> None:
    _rejects(_head(*fields), status, words)


@pytest.mark.parametrize(
    ("head", "status", "words"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400, "without a Host"),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host"),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host"),
        (b"GET / HTTP/1.1\r\nHost: x:8o\r\n\r\n", 400, "invalid Host"),
        (b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "invalid Host"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", 400, "more than one Host"),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"),
    ],
)
def test_rejected_heads(head: bytes, status: int, words: str) -> None:
    _rejects(head, status, words)


@pytest.mark.parametrize(
    ("line", "status", "words"),
    [
        (b"GET  / HTTP/1.1", 400, "expected METHOD SP TARGET"),
        (b"GET /  HTTP/1.1", 400, "expected"),
        (b"GET / HTTP/1.1 ", 400, "expected"),
        (b" GET / HTTP/1.1", 400, "does not start with a method"),
        (b"GET\t/ HTTP/1.1", 400, "invalid method"),
        (b"GET /", 400, "expected"),  # HTTP/0.9
        (b"GET / ", 400, "expected"),
        (b"GET / http/1.1", 400, "expected"),
        (b"GET / HTTP/1.10", 400, "expected"),
        (b"GET / HTTP/1", 400, "expected"),
        (b"GET / HTTP/2.0", 400, "unsupported HTTP version 2.0"),
        (b"GET / HTTP/7.0", 400, "unsupported HTTP version"),
        (b"PRI * HTTP/2.0", 400, "unsupported HTTP version"),
        (b"GE(T / HTTP/1.1", 400, "invalid method"),
        (b"G\xc3\xa9T / HTTP/1.1", 400, "invalid method"),
        (b"GET /a b HTTP/1.1", 400, "expected"),
        (b"GET /a\x00b HTTP/1.1", 400, "expected"),
        (b"GET /a\x01b HTTP/1.1", 400, "expected"),
        (b"GET /\xe9 HTTP/1.1", 400, "expected"),
        (b"GET /a\rb HTTP/1.1", 400, "bare CR"),
        (b"GET /a#b HTTP/1.1", 400, "fragment"),
        (b"GET a HTTP/1.1", 400, "not a path or an http(s) URL"),
        (b"GET * HTTP/1.1", 400, "for OPTIONS only"),
        (b"GET ftp://x/ HTTP/1.1", 400, "not a path"),
        (b"GET http:///a HTTP/1.1", 400, "bad host"),
        (b"GET http://u@x/ HTTP/1.1", 400, "bad host"),
        (b"GET http://x:y/ HTTP/1.1", 400, "bad host"),
        (b"CONNECT x:443 HTTP/1.1", 501, "CONNECT"),
        (b"CONNECT /echo HTTP/1.1", 501, "CONNECT"),
        (b"GET /" + b"a" * framing.MAX_REQUEST_LINE + b" HTTP/1.1", 414, "too long"),
    ],
)
def test_rejected_request_lines(line: bytes, status: int, words: str) -> None:
    _rejects(line + b"\r\nHost: x\r\n\r\n", status, words)


@pytest.mark.parametrize(
    ("line", "path", "version", "authority"),
    [
        (b"GET /a?b=c&d=%20 HTTP/1.1", "/a?b=c&d=%20", "HTTP/1.1", None),
        (b"GET / HTTP/1.0", "/", "HTTP/1.0", None),
        (b"GET / HTTP/1.9", "/", "HTTP/1.1", None),  # a later 1.x minor is read as 1.1
        (b"OPTIONS * HTTP/1.1", "*", "HTTP/1.1", None),
        (b"GET http://example.net:81/x?y HTTP/1.1", "/x?y", "HTTP/1.1", "example.net:81"),
        (b"GET HTTPS://[::1]?q HTTP/1.1", "/?q", "HTTP/1.1", "[::1]"),
        (b"GET http://h HTTP/1.1", "/", "HTTP/1.1", "h"),
        (b"FROBNICATE /echo HTTP/1.1", "/echo", "HTTP/1.1", None),
    ],
)
def test_accepted_request_lines(
    line: bytes, path: str, version: str, authority: str | None
) -> None:
    head = parse_head(line + b"\r\nHost: x\r\n\r\n")
    assert (head.path, head.version, head.authority) == (path, version, authority)


@pytest.mark.parametrize(
    "fields",
    [
        ["Transfer-Encoding: chunked"],
        ["Transfer-Encoding: CHUNKED"],
        ["Transfer-Encoding: , chunked"],
        ["Transfer-Encoding:chunked"],
    ],
)
def test_chunked_is_accepted_alone(fields: list[str]) -> None:
    head = parse_head(_head(*fields))
    assert head.chunked and head.content_length is None


@pytest.mark.parametrize(
    ("value", "length"), [("0", 0), ("007", 7), (" 10 ", 10), ("\t3", 3), ("9" * 18, 10**18 - 1)]
)
def test_content_length_digits_with_ows_around(value: str, length: int) -> None:
    assert parse_head(_head(f"Content-Length:{value}")).content_length == length


def test_values_keep_tabs_and_obs_text_and_inner_spaces() -> None:
    head = parse_head(_head(b"X: a\tb  c\xe9", b"Empty:", b"Y:   "))
    assert head.fields[1:] == [("X", "a\tb  c\xe9"), ("Empty", ""), ("Y", "")]


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        ("1.1", None, True),
        ("1.1", "close", False),
        ("1.1", "Keep-Alive, CLOSE", False),
        ("1.1", "upgrade", True),
        ("1.0", None, False),
        ("1.0", "keep-alive", True),
        ("1.0", "Keep-Alive", True),
        ("1.0", "keep-alive, close", False),
    ],
)
def test_keep_alive(version: str, connection: str | None, keep_alive: bool) -> None:
    fields = [f"Connection: {connection}"] if connection else []
    head = parse_head(_head(*fields, line=f"GET / HTTP/{version}".encode()))
    assert head.keep_alive is keep_alive


def test_expect_continue_and_several_connection_lines() -> None:
    head = parse_head(_head("Expect: 100-Continue", "Connection: x", "Connection: close"))
    assert head.expect_continue and not head.keep_alive
    assert not parse_head(_head("Expect: 200-ok")).expect_continue


def test_too_many_fields_is_431() -> None:
    _rejects(_head(*[f"X-{i}: v" for i in range(framing.MAX_FIELDS)]), 431, "header fields")
    assert len(parse_head(_head(*[f"X-{i}: v" for i in range(99)])).fields) == 100


def test_head_end_and_empty_lines() -> None:
    assert framing.head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nnext") == 27
    assert framing.head_end(b"GET / HTTP/1.1\r\nHost: x\r\n") == -1
    assert framing.head_end(b"abc\r\n\r\n", start=5) == -1
    assert framing.skip_empty_lines(b"\r\n\r\nGET") == 4
    assert framing.skip_empty_lines(b"\r\rGET") == 0
    assert framing.skip_empty_lines(b"GET") == 0


@pytest.mark.parametrize(
    ("buf", "status"),
    [
        (b"G" * (framing.MAX_REQUEST_LINE + 1), 414),
        (b"GET / HTTP/1.1\nHost: x\n\n", 400),
        (b"GET / HTTP/1.1\nHost: x", 400),
    ],
)
def test_incomplete_heads_refused_early(buf: bytes, status: int) -> None:
    with pytest.raises(FramingError) as info:
        framing.check_incomplete(buf)
    assert info.value.status == status


@pytest.mark.parametrize(
    "buf", [b"", b"GET / HT", b"G" * framing.MAX_REQUEST_LINE, b"GET / HTTP/1.1\r\nX: a\n"]
)
def test_incomplete_heads_still_waited_for(buf: bytes) -> None:
    framing.check_incomplete(buf)


# -- differential: whatever we accept, h11 (a strict, well-tested parser) accepts the same --

_NAMES = st.sampled_from(
    ["Host", "host", "Content-Length", "Transfer-Encoding", "Connection", "X-A", "Expect", "Te"]
)
_VALUE_BYTES = st.sampled_from(
    [b"a", b"5", b"0", b" ", b"\t", b",", b"chunked", b"gzip", b"close", b"\x00", b"\x01",
     b"\x7f", b"\r", b"\n", b"\xe9", b"+", b"_", b"x:1", b"[::1]", b"100-continue"]
)  # fmt: skip
_FIELD_LINES = st.one_of(
    st.tuples(
        _NAMES, st.sampled_from([":", " :", ": ", ":\t"]), st.lists(_VALUE_BYTES, max_size=5)
    ).map(lambda t: t[0].encode() + t[1].encode() + b"".join(t[2])),
    st.sampled_from([b" folded", b"nocolon", b": v", b"X Y: v"]),
)
_LINES = st.sampled_from(
    [b"GET / HTTP/1.1", b"POST /backend/empty.php?r=1 HTTP/1.1", b"GET / HTTP/1.0",
     b"OPTIONS * HTTP/1.1", b"GET http://x/y HTTP/1.1", b"GET  / HTTP/1.1", b"GET / HTTP/2.0",
     b"GET /\x00 HTTP/1.1", b"get / HTTP/1.1", b"CONNECT x:1 HTTP/1.1", b"GET /#f HTTP/1.1"]
)  # fmt: skip


def _h11(data: bytes) -> h11.Request | None:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError:
        return None
    return event if isinstance(event, h11.Request) else None


@settings(max_examples=600, deadline=None)
@given(line=_LINES, fields=st.lists(_FIELD_LINES, max_size=6))
def test_what_we_accept_h11_accepts_alike(line: bytes, fields: list[bytes]) -> None:
    data = b"\r\n".join([line, *fields]) + b"\r\n\r\n"
    try:
        ours = parse_head(data)
    except FramingError:
        return
    theirs = _h11(data)
    assert theirs is not None, data
    assert theirs.method.decode() == ours.method
    assert [(n.lower(), v) for n, v in theirs.headers.raw_items()] == [
        (n.lower().encode(), v.encode("latin-1")) for n, v in ours.fields
    ]
    te = [v for n, v in theirs.headers.raw_items() if n.lower() == b"transfer-encoding"]
    assert ours.chunked == bool(te)


# -- the chunked coding's lines --


@pytest.mark.parametrize(
    ("line", "size"),
    [
        (b"0\r\n", 0),
        (b"1a\r\n", 26),
        (b"FFFF\r\n", 65535),
        (b"0000000000000010\r\n", 16),
        (b"5;name\r\n", 5),
        (b"5 ; name = value\r\n", 5),
        (b'5;a="q \\" ;";b=c\r\n', 5),
    ],
)
def test_chunk_size_lines(line: bytes, size: int) -> None:
    assert chunks.chunk_size(line) == size


@pytest.mark.parametrize(
    "line",
    [
        b"\r\n",
        b"5",
        b"5\n",
        b"5\r",
        b"+5\r\n",
        b"-5\r\n",
        b"0x5\r\n",
        b" 5\r\n",
        b"5 \r\n",
        b"5\t\r\n",
        b"g\r\n",
        b"5;\r\n",
        b"5;a=\r\n",
        b"5;a\nb\r\n",
        b"5;a\rb\r\n",
        b'5;a="unterminated\r\n',
        b"5;a=b c\r\n",
        b"00000000000000010\r\n",  # 17 digits
        b"5\x00\r\n",
    ],
)
def test_bad_chunk_size_lines(line: bytes) -> None:
    with pytest.raises(FramingError) as info:
        chunks.chunk_size(line)
    assert info.value.status == 400


def test_trailers() -> None:
    chunks.check_trailer(b"X-Checksum: abc\r\n")
    bad_lines = (b"X-Sum: abc\n", b"X : a\r\n", b" folded\r\n", b"X: a\x00\r\n", b"nocolon\r\n")
    for bad in bad_lines:
        with pytest.raises(FramingError):
            chunks.check_trailer(bad)
