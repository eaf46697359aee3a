"""What the fast path (fastpath.py) and the Flask blueprints must send alike, header for
header: the RPM small object's path and cache header, LibreSpeed's content type, cache and
CORS headers. One source, so the two paths cannot drift apart."""

from __future__ import annotations

#: The responsiveness small object (endpoints/responsiveness.py), one byte a round trip.
SMALL_PATH = "/rpm/small"
#: Every responsiveness reply.
NO_STORE = {"Cache-Control": "no-store"}

# Sent on every LibreSpeed reply, as the reference sends them; some proxies only honour the
# first Cache-Control.
NO_CACHE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0, s-maxage=0"),
    ("Cache-Control", "post-check=0, pre-check=0"),
    ("Pragma", "no-cache"),
)
CORS_HEADERS: tuple[tuple[str, str], ...] = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Encoding, Content-Type"),
)
#: The content type of LibreSpeed's empty.php reply.
EMPTY_CONTENT_TYPE = "text/html; charset=UTF-8"
