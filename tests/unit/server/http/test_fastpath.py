"""The empty.php fast path against the Flask path: the same request through both must give the
same status, the same headers in the same order, the same body, the same log line and leave
the connection in the same state (body read or abandoned). No network: WSGI calls in-process."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from waddleperf_server.config import HttpConfig, ServerConfig
from waddleperf_server.http import bodies
from waddleperf_server.http.app import create_app
from waddleperf_server.http.fastpath import EMPTY_PATHS, FastPath, cors_requested
from waddleperf_server.http.request_body import ABANDON_KEY, PENDING_BODY_ERROR_KEY
from waddleperf_server.http.state import STATE_KEY
from waddleperf_server.runtime import Runtime

LIMIT = 4096
BUDGET = bodies.DISCARD_BUDGET_BYTES


@dataclass(frozen=True)
class Reply:
    """What a client and the connection handler can observe of one request."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes
    abandoned: bool
    unread: int  # bytes of the body left in the input stream


def _app(cors_always: bool = False) -> Flask:
    config = ServerConfig(http=HttpConfig(max_upload_bytes=LIMIT, cors_always=cors_always))
    return create_app(config, Runtime(config=config))


class _Spy:
    """The Flask app, counting the requests that reach it."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.calls += 1
        return self.app(environ, start_response)


def _environ(
    method: str,
    path: str,
    query: str = "",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    stream: Any = None,
) -> dict[str, Any]:
    env: dict[str, Any] = EnvironBuilder(path=path, method=method, query_string=query).get_environ()
    # Headers as gevent puts them in the environ (EnvironBuilder would add its own length).
    env.pop("CONTENT_LENGTH", None)
    env.pop("CONTENT_TYPE", None)
    for key, value in (headers or {}).items():
        name = key.upper().replace("-", "_")
        env[name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{name}"] = value
    if body is not None and "CONTENT_LENGTH" not in env and "HTTP_TRANSFER_ENCODING" not in env:
        env["CONTENT_LENGTH"] = str(len(body))
    env["wsgi.input"] = stream if stream is not None else io.BytesIO(body or b"")
    env["REMOTE_ADDR"] = "127.0.0.1"
    return env


def _call(app: Callable[..., Iterable[bytes]], env: dict[str, Any]) -> Reply:
    # Not werkzeug's run_wsgi_app: it copies the environ, hiding ABANDON_KEY from us.
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, list(headers)))
        return None

    app_iter = app(env, start_response)
    try:
        body = b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    stream = env["wsgi.input"]
    unread = len(stream.read()) if isinstance(stream, io.BytesIO) else -1
    return Reply(status, headers, body, bool(env.get(ABANDON_KEY)), unread)


def _both(
    env_factory: Callable[[], dict[str, Any]], cors_always: bool = False
) -> tuple[Reply, Reply, _Spy]:
    flask_app = _app(cors_always)
    spy = _Spy(flask_app)
    fast = _fast(spy, cors_always)
    via_flask = _call(flask_app, env_factory())
    return via_flask, _call(fast, env_factory()), spy


def _fast(spy: _Spy, cors_always: bool = False) -> FastPath:
    random = spy.app.extensions[STATE_KEY].random
    return FastPath(spy, LIMIT, cors_always, random)


QUERIES = [
    "",
    "r=0.123456",
    "cors",
    "cors=true",
    "cors=false",
    "cors=",
    "r=1&cors=true",
    "%63ors=1",
    "c%6Frs",
    "x=cors",
    "corsx=1",
    "CORS=1",
    "a=%zz&cors",
    "a=%zz",
    "&&",
    "cors&cors",
    "+cors",
]


@pytest.mark.parametrize("path", sorted(EMPTY_PATHS))
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "OPTIONS"])
def test_every_route_and_method_same_reply_without_flask(path: str, method: str) -> None:
    flask_reply, fast_reply, spy = _both(lambda: _environ(method, path, "r=0.5"))
    assert fast_reply == flask_reply
    assert flask_reply.status == "200 OK" and flask_reply.body == b""
    assert spy.calls == 0  # answered by the fast path itself


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("query", ["", "r=1", "cors=true"])
@pytest.mark.parametrize("body", [b"", b"k" * 100, b"k" * (LIMIT * 2)])
def test_rpm_small_same_reply_without_flask(method: str, query: str, body: bytes) -> None:
    flask_reply, fast_reply, spy = _both(lambda: _environ(method, "/rpm/small", query, body))
    assert fast_reply == flask_reply
    assert flask_reply.status == "200 OK"
    assert len(flask_reply.body) == (1 if method == "GET" else 0)
    # neither path reads the body: the handler discards it after the reply, bounded
    assert fast_reply.unread == len(body) and not fast_reply.abandoned
    assert spy.calls == 0


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("cors_always", [False, True])
def test_cors_query_same_headers(query: str, cors_always: bool) -> None:
    flask_reply, fast_reply, spy = _both(lambda: _environ("GET", "/empty.php", query), cors_always)
    assert fast_reply == flask_reply
    assert spy.calls == 0


@pytest.mark.parametrize("query", QUERIES)
def test_cors_requested_matches_werkzeug(query: str) -> None:
    from werkzeug.wrappers import Request

    assert cors_requested(query) == ("cors" in Request({"QUERY_STRING": query}).args)


BODY_CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "small": lambda: _environ("POST", "/backend/empty.php", body=b"x" * 1000),
    "exactly the limit": lambda: _environ("POST", "/empty.php", body=b"x" * LIMIT),
    "one past the limit, read and dropped": lambda: _environ(
        "POST", "/empty.php", "cors=true", body=b"x" * (LIMIT + 1)
    ),
    "declared far past the limit": lambda: _environ(
        "POST",
        "/empty.php",
        body=b"x" * 100,
        headers={"Content-Length": str(LIMIT + BUDGET + 1)},
    ),
    "100-continue past the limit": lambda: _environ(
        "POST",
        "/empty",
        headers={"Content-Length": str(LIMIT + 1), "Expect": "100-Continue"},
    ),
    "100-continue within the limit": lambda: _environ(
        "POST",
        "/empty",
        body=b"y" * 10,
        headers={"Content-Length": "10", "Expect": "100-continue"},
    ),
    "chunked within": lambda: _environ(
        "POST", "/empty.php", body=b"z" * 3000, headers={"Transfer-Encoding": "chunked"}
    ),
    "chunked past the limit": lambda: _environ(
        "POST", "/empty.php", body=b"z" * (LIMIT * 3), headers={"Transfer-Encoding": "chunked"}
    ),
    "chunked and a length": lambda: _environ(
        "POST",
        "/empty.php",
        body=b"z" * (LIMIT * 2),
        headers={"Transfer-Encoding": "chunked", "Content-Length": "5"},
    ),
    "bad length": lambda: _environ(
        "POST", "/empty.php", body=b"q" * 10, headers={"Content-Length": "abc"}
    ),
    "negative length": lambda: _environ(
        "POST", "/empty.php", body=b"q" * 10, headers={"Content-Length": "-5"}
    ),
    "GET with a body": lambda: _environ("GET", "/empty.php", body=b"g" * 100),
    "HEAD past the limit": lambda: _environ("HEAD", "/empty.php", body=b"h" * (LIMIT + 1)),
}


@pytest.mark.parametrize("case", sorted(BODY_CASES))
def test_bodies_same_reply_and_connection_state(case: str) -> None:
    flask_reply, fast_reply, _spy = _both(BODY_CASES[case])
    assert fast_reply == flask_reply


def test_413_and_close_decisions_are_flasks() -> None:
    flask_reply, fast_reply, spy = _both(BODY_CASES["declared far past the limit"])
    assert fast_reply == flask_reply
    assert flask_reply.status.startswith("413")
    assert ("Connection", "close") in flask_reply.headers
    assert fast_reply.abandoned and fast_reply.unread == 100  # refused unread
    assert spy.calls == 1  # the error reply is Flask's own
    flask_reply, fast_reply, _ = _both(BODY_CASES["one past the limit, read and dropped"])
    assert fast_reply.status.startswith("413") and fast_reply == flask_reply
    assert ("Connection", "close") not in fast_reply.headers  # keep-alive survives
    assert ("Access-Control-Allow-Origin", "*") in fast_reply.headers
    assert fast_reply.unread == 0 and not fast_reply.abandoned


class _Failing(io.RawIOBase):
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def read(self, size: int = -1, /) -> bytes:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (TimeoutError("timed out"), "408"),
        (OSError("Invalid chunk header"), "400"),
        (ValueError("odd"), "500"),
    ],
)
def test_failed_reads_same_error_reply(exc: Exception, status: str) -> None:
    def env() -> dict[str, Any]:
        return _environ(
            "POST", "/empty.php", headers={"Content-Length": "10"}, stream=_Failing(exc)
        )

    flask_reply, fast_reply, spy = _both(env)
    assert fast_reply == flask_reply
    assert flask_reply.status.startswith(status)
    assert spy.calls == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/empty.php"),
        ("DELETE", "/backend/empty"),
        ("GET", "/empty.php/"),
        ("GET", "//empty.php"),
        ("GET", "/EMPTY.PHP"),
        ("GET", "/backend/backend/empty.php"),
        ("GET", "/garbage.php"),
        ("GET", "/getIP.php"),
        ("GET", "/echo"),
        ("POST", "/rpm/small"),
        ("OPTIONS", "/rpm/small"),
        ("GET", "/rpm/small/"),
        ("HEAD", "/rpm/large"),  # headers only: the object is 8 GiB
    ],
)
def test_everything_else_goes_to_flask(method: str, path: str) -> None:
    flask_reply, fast_reply, spy = _both(lambda: _environ(method, path, "ckSize=1"))
    assert spy.calls == 1
    assert fast_reply.status == flask_reply.status
    assert fast_reply == flask_reply


def test_pending_error_key_cannot_come_from_a_client() -> None:
    # Header names become HTTP_*; the hand-over key has no such prefix.
    assert not PENDING_BODY_ERROR_KEY.startswith("HTTP_")
    env = _environ("GET", "/empty.php", headers={"Waddleperf.pending-body-error": "x"})
    assert PENDING_BODY_ERROR_KEY not in env


def test_same_debug_log_line(caplog: pytest.LogCaptureFixture) -> None:
    def lines() -> list[str]:
        found = [r.getMessage() for r in caplog.records if r.getMessage().startswith("request ")]
        caplog.clear()
        return [re.sub(r"ms=[0-9.]+", "ms=X", line) for line in found]

    with caplog.at_level(logging.DEBUG, logger="waddleperf.server.http"):
        _call(_app(), _environ("POST", "/backend/empty.php", "r=1", body=b"a" * 10))
        via_flask = lines()
        spy = _Spy(_app())
        _call(_fast(spy), _environ("POST", "/backend/empty.php", "r=1", b"a"))
        via_fast = lines()
        _call(_app(), _environ("GET", "/rpm/small"))
        small_via_flask = lines()
        _call(_fast(spy), _environ("GET", "/rpm/small"))
        small_via_fast = lines()
    assert spy.calls == 0
    assert via_flask and via_fast == via_flask
    assert small_via_flask and small_via_fast == small_via_flask


def test_control_characters_in_logged_paths_are_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """A %0A in the URL arrives as a newline in PATH_INFO; the log line must not break there
    (log injection). Both paths escape alike, so the fast path stays word for word Flask's."""
    env = _environ("GET", "/x")
    env["PATH_INFO"] = "/no\nsuch\x1b[2J\x7f"
    with caplog.at_level(logging.DEBUG, logger="waddleperf.server.http"):
        _call(_fast(_Spy(_app())), env)  # not a fast-path route: Flask answers (404)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("request ")]
    assert "path=/no\\x0asuch\\x1b[2J\\x7f status=404" in line
    assert "\n" not in line and "\x1b" not in line


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("/plain/path", "/plain/path"),
        ("/a\r\nb", "/a\\x0d\\x0ab"),
        ("/\x00\x85", "/\\x00\\x85"),
        ("/caf\xe9 \xa0", "/caf\xe9 \xa0"),  # printable latin-1 and spaces stay as they are
    ],
)
def test_printable(raw: str, logged: str) -> None:
    from waddleperf_server.logs import printable

    assert printable(raw) == logged
