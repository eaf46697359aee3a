"""A small WSGI client for controller tests: requests go straight into the application (no
socket), cookies are kept like a browser keeps them, py4web form keys are read off pages."""

from __future__ import annotations

import io
import json as jsonlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
FORMKEY = re.compile(r'name="_formname" value="([^"]+)">\s*<input type="hidden" name="_formkey" '
                     r'value="([^"]+)"')  # fmt: skip


@dataclass
class Reply:
    """One answer: status code, headers (every value of each), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def formkey(self, form_name: str) -> str:
        """The ``_formkey`` of the page's form ``form_name``."""
        found = {m.group(1): m.group(2) for m in FORMKEY.finditer(self.text)}
        assert form_name in found, f"no form {form_name!r} on the page: {sorted(found)}"
        return found[form_name]

    def csrf_token(self) -> str:
        found = re.search(r'<meta name="csrf-token" content="([^"]*)">', self.text)
        assert found and found.group(1), "no csrf-token meta on the page"
        return found.group(1)


@dataclass
class WsgiClient:
    """A browser-like client of ``app`` at ``scheme://host``."""

    app: Wsgi
    host: str = "127.0.0.1:8000"
    scheme: str = "http"
    remote_addr: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    def request(self, method: str, url: str, body: bytes = b"",
                headers: Mapping[str, str] | None = None) -> Reply:  # fmt: skip
        parts = urlsplit(url)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
            "SERVER_NAME": self.host.rsplit(":", 1)[0], "SERVER_PORT": self.host.rsplit(":", 1)[1],
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.remote_addr,
            "HTTP_HOST": self.host, "wsgi.url_scheme": self.scheme, "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False, "CONTENT_LENGTH": str(len(body)),
        }  # fmt: skip
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):  # CGI names, not HTTP_*
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        got: dict[str, Any] = {}

        def start(
            status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            got["status"], got["headers"] = status, response_headers
            return lambda data: None

        chunks = self.app(environ, start)
        try:
            data = b"".join(c if isinstance(c, bytes) else str(c).encode() for c in chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        reply = Reply(int(got["status"].split()[0]), list(got["headers"]), data)
        for raw in reply.all("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] in ("-1", "0") or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.coded_value
        return reply

    def get(self, url: str, **headers: str) -> Reply:
        return self.request("GET", url, headers={"Accept": "text/html", **headers})

    def api(self, method: str, url: str, payload: Any = None, token: str | None = None,
            origin: str | None = "same") -> Reply:  # fmt: skip
        headers = {"Accept": "application/json"}
        body = b""
        if payload is not None:
            body = jsonlib.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        if origin is not None:
            headers["Origin"] = self.origin if origin == "same" else origin
        if token is not None:
            headers["X-WaddlePerf-CSRF"] = token
        return self.request(method, url, body, headers)

    def post_form(self, url: str, fields: Mapping[str, str], origin: str | None = "same") -> Reply:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
        if origin is not None:
            headers["Origin"] = self.origin if origin == "same" else origin
        return self.request("POST", url, urlencode(fields).encode(), headers)

    def login(self, email: str, password: str) -> Reply:
        page = self.get("/waddleperf/auth/login")
        return self.post_form("/waddleperf/auth/login", {
            "email": email, "password": password, "_formname": "login",
            "_formkey": page.formkey("login")})  # fmt: skip
