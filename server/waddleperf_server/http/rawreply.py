"""Replies the server sends by itself, before or without the application: JSON errors for
requests too broken to reach Flask (400, 408, 414, 431, 501) and for connections refused at
the door (429, 503). Each closes the connection."""

from __future__ import annotations

import json

REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    414: "URI Too Long",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
MESSAGES = {
    400: "malformed HTTP request",
    408: "request head too slow; connection closed",
    414: "request line too long",
    429: "too many connections from this address",
    431: "request head too large",
    500: "internal server error",
    501: "not implemented",
    503: "server busy: every connection slot is taken",
}


def raw_json_error(code: int, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of a JSON error sent by the server itself (not Flask),
    for requests too broken to reach the application; the connection is then closed."""
    body = json.dumps({"error": message, "status": code}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    return f"{code} {REASONS.get(code, 'Error')}", headers, body


def raw_response(code: int, message: str | None = None) -> bytes:
    """The whole HTTP/1.1 response (head and JSON body) for ``code``; ``message`` defaults to
    the usual sentence for that status (those replies are built once: a flood of refusals
    costs no JSON encoding)."""
    if message is None:
        ready = _READY.get(code)
        if ready is not None:
            return ready
        message = MESSAGES.get(code, "error")
    status, headers, body = raw_json_error(code, message)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode("latin-1") + body


_READY: dict[int, bytes] = {}
_READY.update((code, raw_response(code)) for code in MESSAGES)
