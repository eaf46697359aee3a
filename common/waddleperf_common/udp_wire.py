"""The UDP probe datagram: the one wire format the UDP probe and the UDP echo server share.

Layout (network byte order), 32-byte header then padding then an optional HMAC trailer::

    0      4  5  6      8               16              24              32
    | magic |v |fl| rsvd |      seq      |  client_tx_ns |  server_rx_ns | padding… | hmac(32)? |

- ``magic``  b"WPRB"; ``v`` version, currently 1.
- ``fl``     flags: bit 0 = HMAC trailer present, bit 1 = this is a reply, bit 2 = rate-drop
  query (a request) or its answer (a reply).
- ``seq``    unsigned 64-bit sequence number chosen by the client.
- ``client_tx_ns`` the client's send timestamp in ns (the client's own clock; opaque to the server).
- ``server_rx_ns`` zero from the client; the server writes its receive time (Unix ns) in replies.
  In the answer to a rate-drop query it carries instead how many datagrams from the query's
  source address *and port* the server's rate limit dropped since that source's last query.
- ``hmac``   HMAC-SHA256 over every byte before it, when flag bit 0 is set. A server without
  a key answers a signed request with the flag cleared (it cannot sign the reply).

A reply is exactly as long as the request, so the echo can never amplify. A server that
predates the query answers it as a plain echo (bit 2 cleared), which tells the client so.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

MAGIC = b"WPRB"
VERSION = 1
FLAG_HMAC = 0x01
FLAG_REPLY = 0x02
FLAG_TALLY = 0x04
#: Offset of the flags byte (a server peeks at it without parsing the rest).
FLAGS_OFFSET = 5
_HEADER = struct.Struct("!4sBBHQQQ")
HEADER_SIZE = _HEADER.size  # 32
HMAC_SIZE = 32
MAX_DATAGRAM = 65507  # largest UDP payload over IPv4


class WireError(ValueError):
    """A datagram is not a valid probe datagram; the message says why."""


@dataclass(frozen=True, slots=True)
class ProbeDatagram:
    """A decoded probe datagram."""

    seq: int
    client_tx_ns: int
    server_rx_ns: int
    is_reply: bool
    authenticated: bool
    size: int
    is_tally: bool = False

    @property
    def rate_dropped(self) -> int | None:
        """In the answer to a rate-drop query, the count it carries; else None."""
        return self.server_rx_ns if self.is_reply and self.is_tally else None


def min_size(with_hmac: bool) -> int:
    """Smallest legal datagram in bytes."""
    return HEADER_SIZE + (HMAC_SIZE if with_hmac else 0)


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def encode(
    seq: int,
    client_tx_ns: int,
    size: int | None = None,
    key: bytes | None = None,
    tally: bool = False,
) -> bytes:
    """Build a client request of exactly ``size`` bytes (default: the smallest legal size);
    with ``tally`` a rate-drop query instead of an echo request."""
    need = min_size(key is not None)
    size = need if size is None else size
    if not need <= size <= MAX_DATAGRAM:
        raise WireError(f"datagram size {size} outside {need}..{MAX_DATAGRAM}")
    if not 0 <= seq < 2**64 or not 0 <= client_tx_ns < 2**64:
        raise WireError("seq and client_tx_ns must fit in 64 unsigned bits")
    flags = (FLAG_HMAC if key is not None else 0) | (FLAG_TALLY if tally else 0)
    header = _HEADER.pack(MAGIC, VERSION, flags, 0, seq, client_tx_ns, 0)
    pad = bytes(size - need)
    body = header + pad
    return body + _mac(key, body) if key is not None else body


def decode(data: bytes, key: bytes | None = None) -> ProbeDatagram:
    """Parse and check a datagram; with ``key`` the HMAC must be present and valid."""
    if len(data) < HEADER_SIZE:
        raise WireError(f"truncated: {len(data)} bytes, header needs {HEADER_SIZE}")
    if len(data) > MAX_DATAGRAM:
        raise WireError(f"oversized: {len(data)} bytes")
    magic, version, flags, _rsvd, seq, tx_ns, rx_ns = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise WireError("bad magic")
    if version != VERSION:
        raise WireError(f"unsupported version {version}")
    has_mac = bool(flags & FLAG_HMAC)
    if has_mac and len(data) < HEADER_SIZE + HMAC_SIZE:
        raise WireError("HMAC flag set but datagram too short for the trailer")
    authenticated = False
    if key is not None:
        if not has_mac:
            raise WireError("HMAC required but absent")
        body, tag = data[:-HMAC_SIZE], data[-HMAC_SIZE:]
        if not hmac.compare_digest(_mac(key, body), tag):
            raise WireError("HMAC mismatch")
        authenticated = True
    return ProbeDatagram(
        seq=seq,
        client_tx_ns=tx_ns,
        server_rx_ns=rx_ns,
        is_reply=bool(flags & FLAG_REPLY),
        authenticated=authenticated,
        size=len(data),
        is_tally=bool(flags & FLAG_TALLY),
    )


def is_tally_query(data: bytes | memoryview) -> bool:
    """Whether ``data`` claims to be a rate-drop query, from its flags byte alone (no
    parsing, no HMAC: what a server may check for a datagram it is about to drop)."""
    return len(data) > FLAGS_OFFSET and data[FLAGS_OFFSET] & (FLAG_TALLY | FLAG_REPLY) == FLAG_TALLY


def make_reply(request: bytes, server_rx_ns: int, key: bytes | None = None) -> bytes:
    """The server's reply to a valid echo request: same length, reply flag and receive
    time set.

    Raises WireError for anything that is not a valid echo request (the server then drops it).
    """
    dg = decode(request, key)
    if dg.is_tally and not dg.is_reply:
        raise WireError("a rate-drop query is answered with make_tally_reply")
    return _answer(request, dg, server_rx_ns, key, 0)


def make_tally_reply(request: bytes, rate_dropped: int, key: bytes | None = None) -> bytes:
    """The server's answer to a valid rate-drop query: same length, reply and query flags
    set, ``rate_dropped`` (datagrams) where an echo carries its receive time.

    Raises WireError for anything that is not a valid rate-drop query.
    """
    dg = decode(request, key)
    if not dg.is_tally and not dg.is_reply:
        raise WireError("not a rate-drop query")
    if not 0 <= rate_dropped < 2**64:
        raise WireError("rate_dropped must fit in 64 unsigned bits")
    return _answer(request, dg, rate_dropped, key, FLAG_TALLY)


def _answer(request: bytes, dg: ProbeDatagram, third: int, key: bytes | None, extra: int) -> bytes:
    if dg.is_reply:
        raise WireError("a reply is never echoed (prevents reflection loops)")
    # Without a key the request's trailer cannot be re-signed over the changed header, so
    # the reply does not claim an HMAC (the stale trailer stays as padding, keeping the length).
    flags = FLAG_REPLY | extra | (FLAG_HMAC if key is not None else 0)
    header = _HEADER.pack(MAGIC, VERSION, flags, 0, dg.seq, dg.client_tx_ns, third)
    if key is not None:
        body = header + request[HEADER_SIZE:-HMAC_SIZE]
        return body + _mac(key, body)
    return header + request[HEADER_SIZE:]
