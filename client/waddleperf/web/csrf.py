"""Cross-site request checks for the UI's JSON actions (py4web checks only its forms).

Pure. A state-changing request (POST, PUT, PATCH, DELETE) passes only when

* its ``Origin`` (else its ``Referer``) names this UI's own scheme, host and port — a browser
  always sends one of them on a cross-site POST, and a page elsewhere cannot forge them; and
* it carries the session's token in the :data:`HEADER` header — a custom header, which a
  cross-site page cannot set without a CORS preflight this UI never grants.

The token is random per login session (``secrets.token_urlsafe``) and compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

HEADER = "X-WaddlePerf-CSRF"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def new_token() -> str:
    """A fresh per-session token."""
    return secrets.token_urlsafe(32)


def _origin_of(url: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return parts.scheme, f"{host}:{port or default}"


def same_origin(scheme: str, host_header: str, origin: str | None, referer: str | None) -> bool:
    """Whether the request's Origin (or Referer) is this UI: ``scheme`` and ``host_header``
    (the ``Host`` the browser used)."""
    source = origin if origin and origin != "null" else referer
    if not source:
        return False
    own = _origin_of(f"{scheme}://{host_header}/")
    return own is not None and _origin_of(source) == own


def refusal(
    method: str,
    scheme: str,
    host_header: str,
    origin: str | None,
    referer: str | None,
    sent_token: str | None,
    session_token: str | None,
) -> str | None:
    """Why the request is refused (a sentence), or None when it may proceed."""
    if method.upper() not in UNSAFE:
        return None
    if not same_origin(scheme, host_header, origin, referer):
        return "cross-site request refused: its Origin is not this UI"
    if not session_token or not sent_token:
        return f"request refused: the {HEADER} header is missing"
    if not hmac.compare_digest(sent_token.encode(), session_token.encode()):
        return f"request refused: the {HEADER} header does not match this session"
    return None
