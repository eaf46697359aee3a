"""The chunked transfer coding's lines (RFC 9112 §7.1), strictly: a chunk-size line is hex
digits, optional extensions of the exact grammar and CRLF; a trailer is a field line. Pure;
the body reader (body_input.py) does the reading.

Strict because a lenient chunk parser is the other half of request smuggling: a bare LF in
an extension, a size with a sign or ``0x``, whitespace where none belongs or a missing CRLF
after the data let two parsers see different bodies.
"""

from __future__ import annotations

import re

from waddleperf_server.http.framing import FramingError, check_field_line

#: Longest chunk-size line, extensions included (bytes).
MAX_CHUNK_LINE = 4096
#: Most trailer field lines after the last chunk.
MAX_TRAILERS = 32

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_EXT = rb"[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?"
_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:" + _EXT + rb")*")


def chunk_size(line: bytes) -> int:
    """The size (bytes) a chunk-size line announces; ``line`` ends with its CRLF.

    Raises FramingError (400) for anything but ``1*HEXDIG *chunk-ext CRLF``.
    """
    if not line.endswith(b"\r\n"):
        raise FramingError(400, "malformed chunked body: a chunk-size line must end in CRLF")
    m = _SIZE_LINE.fullmatch(line, 0, len(line) - 2)
    if m is None:
        raise FramingError(400, "malformed chunked body: bad chunk-size line")
    return int(m.group(1), 16)


def check_trailer(line: bytes) -> None:
    """Raise FramingError (400) unless ``line`` (with its CRLF) is a valid trailer field."""
    if not line.endswith(b"\r\n"):
        raise FramingError(400, "malformed chunked body: a trailer line must end in CRLF")
    check_field_line(line[:-2])
