"""Sentences a person understands for what broke a probe's exchange: pure, no I/O."""

from __future__ import annotations

import http.client
import socket
import ssl


def describe_error(exc: BaseException, timeout_s: float) -> str:
    """A person's sentence for what broke an HTTP exchange."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"No answer within {timeout_s:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused (nothing listening on that port)"
    if isinstance(exc, http.client.HTTPException):
        return f"Not a valid HTTP response ({type(exc).__name__}: {exc})"
    return f"{exc}"
