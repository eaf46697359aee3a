"""The JSON actions' cross-site check, pure."""

from __future__ import annotations

import pytest

from waddleperf.web.csrf import HEADER, new_token, refusal, same_origin


@pytest.mark.parametrize(("scheme", "host", "origin", "ok"), [
    ("http", "127.0.0.1:8000", "http://127.0.0.1:8000", True),
    ("http", "localhost:8000", "http://LOCALHOST:8000", True),
    ("https", "ui.example:443", "https://ui.example", True),
    ("https", "ui.example", "https://ui.example:443", True),
    ("http", "ui.example", "http://ui.example:80", True),
    ("http", "[::1]:8000", "http://[::1]:8000", True),
    ("http", "127.0.0.1:8000", "http://127.0.0.1:8001", False),
    ("http", "127.0.0.1:8000", "https://127.0.0.1:8000", False),
    ("http", "127.0.0.1:8000", "http://evil.example", False),
    ("http", "127.0.0.1:8000", "null", False),
    ("http", "127.0.0.1:8000", "file:///etc/passwd", False),
    ("http", "127.0.0.1:8000", "http://127.0.0.1:99999", False),
    ("http", "127.0.0.1:8000", None, False),
])  # fmt: skip
def test_same_origin(scheme: str, host: str, origin: str | None, ok: bool) -> None:
    assert same_origin(scheme, host, origin, None) is ok


def test_referer_stands_in_for_a_missing_origin() -> None:
    assert same_origin("http", "h:1", None, "http://h:1/waddleperf/history?x=1")
    assert same_origin("http", "h:1", "null", "http://h:1/page")
    assert not same_origin("http", "h:1", None, "http://other:1/page")


def test_refusal() -> None:
    token = new_token()
    args = ("http", "h:1", "http://h:1", None)
    assert refusal("GET", "http", "h:1", "http://evil", None, None, token) is None
    assert refusal("POST", *args, token, token) is None
    assert "cross-site" in (refusal("POST", "http", "h:1", "http://evil", None, token, token) or "")
    assert "missing" in (refusal("DELETE", *args, None, token) or "")
    assert "missing" in (refusal("PUT", *args, token, None) or "")
    assert "does not match" in (refusal("PATCH", *args, token + "x", token) or "")
    assert HEADER in (refusal("POST", *args, None, token) or "")


def test_tokens_are_random_and_long() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and min(map(len, tokens)) >= 40
