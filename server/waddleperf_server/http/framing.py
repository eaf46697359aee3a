"""Strict HTTP/1.1 request heads (RFC 9112): bytes in, a parsed :class:`Head` or a
:class:`FramingError` (status and one sentence) out. No I/O.

Strict where leniency lets two parsers disagree about where a message ends (request
smuggling behind a proxy) or lets junk reach the application:

- a request line is exactly ``method SP request-target SP HTTP/1.x`` (one space each, no
  HTTP/0.9, a target of visible ASCII in origin form, absolute form or ``*`` for OPTIONS);
- a field line is ``name ":" OWS value OWS``: no whitespace before the colon, no obs-fold
  (a line starting with whitespace), no bare CR or LF, no NUL or other control character in
  a value (HTAB excepted);
- ``Content-Length`` once, plain digits only; never together with ``Transfer-Encoding``;
- ``Transfer-Encoding`` exactly ``chunked``: a coding we do not implement is 501, chunked
  twice or not last is 400, and an HTTP/1.0 request may not use it;
- exactly one valid ``Host`` in HTTP/1.1.

Every rejection closes the connection: after a framing error the next byte's meaning is
unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Longest request line (the method, target and version), bytes; longer is 414.
MAX_REQUEST_LINE = 8192
#: Most field lines in a head; more is 431 (the head's byte budget bounds them too).
MAX_FIELDS = 100
#: The end of a request head.
HEAD_END = b"\r\n\r\n"

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
# field-value: HTAB, SP, VCHAR and obs-text; OWS around it is stripped afterwards.
_FIELD = re.compile(rb"(" + _TOKEN + rb"):([\t\x20-\x7e\x80-\xff]*)")
_TOKEN_RE = re.compile(_TOKEN)
_DIGITS = re.compile(rb"[0-9]{1,18}")
_ABSOLUTE = re.compile(rb"(?i:https?)://([^/?#]*)(.*)")
# uri-host [":" port]: a reg-name or IPv4 address, or an IP literal in brackets.
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?")
_OWS = b" \t"


class FramingError(ValueError):
    """A request head that must be refused: ``status`` (400, 414, 431, 501) and a sentence
    naming what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Head:
    """One parsed request head.

    ``path`` is the origin-form target (``/path?query``; the absolute form's path, ``*`` for
    ``OPTIONS *``); ``fields`` the header fields as sent (names in their own case, values
    without surrounding whitespace, latin-1 text); ``content_length`` None when absent;
    ``authority`` the host of an absolute-form target (it takes the place of ``Host``).
    """

    method: str
    path: str
    version: str
    fields: list[tuple[str, str]]
    content_length: int | None
    chunked: bool
    keep_alive: bool
    expect_continue: bool
    authority: str | None = None


def head_end(buf: bytes | bytearray, start: int = 0) -> int:
    """Index just past the head's final CRLF CRLF in ``buf``, or -1 while it is incomplete.

    ``start`` is where the search may begin (bytes already searched, less three).
    """
    end = buf.find(HEAD_END, start)
    return -1 if end < 0 else end + 4


def check_incomplete(buf: bytes | bytearray) -> None:
    """Raise the FramingError an incomplete head already deserves, so that a client is not
    waited for when its request cannot succeed: a request line over MAX_REQUEST_LINE (414)
    or lines ended by a bare LF (400; such a head would never end in CRLF CRLF)."""
    line_end = buf.find(b"\r\n", 0, MAX_REQUEST_LINE + 2)
    if line_end < 0 and len(buf) > MAX_REQUEST_LINE:
        raise FramingError(414, "request line too long")
    if b"\n\n" in buf or (line_end < 0 and b"\n" in buf):
        raise FramingError(400, "malformed HTTP request: line ends in a bare LF, not CRLF")


def skip_empty_lines(buf: bytes | bytearray) -> int:
    """How many leading bytes of ``buf`` are empty lines (CRLF), which a server should
    ignore before a request line (RFC 9112 §2.2)."""
    n = 0
    while buf.startswith(b"\r\n", n):
        n += 2
    return n


def parse_head(data: bytes) -> Head:
    """Parse a complete request head: the request line and field lines, without the final
    empty line (CRLF CRLF may end ``data`` or not). Raises FramingError."""
    if data.endswith(HEAD_END):
        data = data[:-4]
    lines = data.split(b"\r\n")
    method, path, version, authority = _request_line(lines[0])
    if len(lines) > MAX_FIELDS + 1:
        raise FramingError(431, f"more than {MAX_FIELDS} header fields")
    fields: list[tuple[str, str]] = []
    content_length: bytes | None = None
    te: list[bytes] = []
    hosts = 0
    host_ok = True
    connection = b""
    expect = False
    match = _FIELD.fullmatch
    for line in lines[1:]:
        m = match(line)
        if m is None:
            raise FramingError(400, _field_problem(line))
        name = m.group(1)
        value = m.group(2).strip(_OWS)
        lname = name.lower()
        if lname == b"content-length":
            if content_length is not None:
                raise FramingError(400, "more than one Content-Length header field")
            content_length = value
        elif lname == b"transfer-encoding":
            te.append(value)
        elif lname == b"host":
            hosts += 1
            host_ok = host_ok and _HOST.fullmatch(value) is not None
        elif lname == b"connection":
            connection = connection + b"," + value if connection else value
        elif lname == b"expect":
            expect = value.lower() == b"100-continue"
        fields.append((name.decode("latin-1"), value.decode("latin-1")))
    if version == "HTTP/1.1" and hosts == 0:
        raise FramingError(400, "HTTP/1.1 request without a Host header field")
    if hosts > 1:
        raise FramingError(400, "more than one Host header field")
    if not host_ok:
        raise FramingError(400, "invalid Host header field")
    length = _content_length(content_length) if content_length is not None else None
    chunked = bool(te) and _chunked(te, length is not None, version)
    return Head(
        method=method,
        path=path,
        version=version,
        fields=fields,
        content_length=length,
        chunked=chunked,
        keep_alive=_keep_alive(connection, version),
        expect_continue=expect,
        authority=authority,
    )


def check_field_line(line: bytes) -> None:
    """Raise FramingError (400) unless ``line`` (without its CRLF) is a valid field line;
    chunked trailers follow the same rule as header fields."""
    if _FIELD.fullmatch(line) is None:
        raise FramingError(400, _field_problem(line))


def _request_line(line: bytes) -> tuple[str, str, str, str | None]:
    if len(line) > MAX_REQUEST_LINE:
        raise FramingError(414, "request line too long")
    m = _REQUEST_LINE.fullmatch(line)
    if m is None:
        raise FramingError(400, _request_line_problem(line))
    raw_method, target, major, minor = m.groups()
    method = raw_method.decode("ascii")
    if major != b"1":
        raise FramingError(400, f"unsupported HTTP version {major.decode()}.{minor.decode()}")
    version = "HTTP/1.0" if minor == b"0" else "HTTP/1.1"
    if method == "CONNECT":
        raise FramingError(501, "CONNECT is not supported: this server is not a proxy")
    if b"#" in target:
        raise FramingError(400, "malformed request target: a fragment (#) is never sent")
    if target.startswith(b"/"):
        return method, target.decode("ascii"), version, None
    if target == b"*":
        if method != "OPTIONS":
            raise FramingError(400, "malformed request target: * is for OPTIONS only")
        return method, "*", version, None
    absolute = _ABSOLUTE.fullmatch(target)
    if absolute is None:
        raise FramingError(400, "malformed request target: not a path or an http(s) URL")
    authority, rest = absolute.groups()
    if not authority or b"@" in authority or _HOST.fullmatch(authority) is None:
        raise FramingError(400, "malformed request target: bad host in the URL")
    if not rest.startswith(b"/"):
        if rest and not rest.startswith(b"?"):
            raise FramingError(400, "malformed request target: bad URL")
        rest = b"/" + rest
    return method, rest.decode("ascii"), version, authority.decode("ascii")


def _request_line_problem(line: bytes) -> str:
    if b"\r" in line:
        return "malformed request line: bare CR"
    if b"\n" in line:
        return "malformed request line: bare LF"
    if not line or line[:1] in (b" ", b"\t"):
        return "malformed request line: it does not start with a method"
    method = line.split(b" ", 1)[0]
    if _TOKEN_RE.fullmatch(method) is None:
        return "malformed request line: invalid method"
    return "malformed request line: expected METHOD SP TARGET SP HTTP/1.x"


def _field_problem(line: bytes) -> str:
    if line[:1] in (b" ", b"\t"):
        return "malformed header: obs-fold (a line starting with whitespace) is not accepted"
    if b"\r" in line:
        return "malformed header: bare CR"
    if b"\n" in line:
        return "malformed header: bare LF"
    name, colon, value = line.partition(b":")
    if not colon:
        return "malformed header: a field line without a colon"
    if name[-1:] in (b" ", b"\t"):
        return "malformed header: whitespace before the colon"
    if _TOKEN_RE.fullmatch(name) is None:
        return "malformed header: invalid field name"
    bad = next((b for b in value if (b < 0x20 and b != 0x09) or b == 0x7F), None)
    shown = name.decode("latin-1")
    if bad is None:  # not reached: every other byte is a valid value byte
        return f"malformed header: invalid value of {shown}"
    return f"malformed header: control character 0x{bad:02x} in the value of {shown}"


def _content_length(value: bytes) -> int:
    if _DIGITS.fullmatch(value) is None:
        shown = value.decode("latin-1")[:40]
        raise FramingError(400, f"malformed Content-Length {shown!r}: not a decimal number")
    return int(value)


def _chunked(values: list[bytes], has_length: bool, version: str) -> bool:
    """Whether a request's Transfer-Encoding is valid (it must be exactly ``chunked``)."""
    if has_length:
        raise FramingError(400, "both Content-Length and Transfer-Encoding")
    if version == "HTTP/1.0":
        raise FramingError(400, "Transfer-Encoding in an HTTP/1.0 request")
    codings = [c.strip(_OWS) for v in values for c in v.split(b",")]
    codings = [c for c in codings if c]  # empty list elements are ignored (RFC 9110 §5.6.1)
    names: list[bytes] = []
    for coding in codings:
        name, _, params = coding.partition(b";")
        name = name.strip(_OWS).lower()
        if _TOKEN_RE.fullmatch(name) is None:
            raise FramingError(400, "malformed Transfer-Encoding")
        if params and name == b"chunked":
            raise FramingError(400, "malformed Transfer-Encoding: chunked takes no parameters")
        names.append(name)
    if not names:
        raise FramingError(400, "empty Transfer-Encoding")
    if b"chunked" in names[:-1]:
        raise FramingError(400, "Transfer-Encoding: chunked must be the final coding, once")
    unknown = [n for n in names if n != b"chunked"]
    if unknown:
        shown = unknown[0].decode("latin-1")[:40]
        raise FramingError(501, f"transfer coding {shown!r} is not supported")
    return True


def _keep_alive(connection: bytes, version: str) -> bool:
    options = {c.strip(_OWS).lower() for c in connection.split(b",")} if connection else set()
    if version == "HTTP/1.1":
        return b"close" not in options
    return b"keep-alive" in options and b"close" not in options
