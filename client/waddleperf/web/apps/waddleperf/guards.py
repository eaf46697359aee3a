"""The app's fixtures: who is asking, login and role checks, and the JSON actions' CSRF check.

* :data:`page_login` / :data:`api_login`: no user → a page redirects to the login page (with
  ``next``), an API call gets 401 JSON. A disabled user's session is ended on its next request.
* :data:`page_admin` / :data:`api_admin`: a logged-in user without the admin role → 403.
* :data:`json_csrf`: POST/PUT/PATCH/DELETE need this UI's Origin and the session's token
  header (:mod:`waddleperf.web.csrf`); anything else → 403 JSON.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from py4web import HTTP, URL, redirect, request, response
from py4web.core import Fixture

from waddleperf.web import csrf

from .common import accounts, auth, session

JSON = {"Content-Type": "application/json"}
_local = threading.local()


def fail(status: int, message: str, **extra: Any) -> HTTP:
    """An HTTP answer ``{"error": message, …}`` to raise."""
    return HTTP(status, body=json.dumps({"error": message, **extra}), headers=dict(JSON))


def me() -> dict[str, Any] | None:
    """The logged-in user of this request: ``{"id", "email", "role"}``, or None."""
    found: dict[str, Any] | None = getattr(_local, "me", None)
    return found


class _Who(Fixture):
    """Resolves the session's user once per request; injects ``me`` and the CSRF token."""

    def __init__(self) -> None:
        self.__prerequisites__ = [auth]

    def on_request(self, context: dict[str, Any]) -> None:
        if session.get("csrf") is None:
            session["csrf"] = csrf.new_token()
        _local.me = None
        user_id = auth.user_id
        if user_id is None:
            return
        user = accounts.get(int(user_id))  # one query: the row and its role
        if user is None or user.disabled:  # disabled or deleted since it logged in
            session.clear()
            session["csrf"] = csrf.new_token()
            return
        _local.me = {"id": user.id, "email": user.email,
                     "role": None if user.role == "none" else user.role}  # fmt: skip

    def on_success(self, context: dict[str, Any]) -> None:
        context["template_inject"].update(me=me(), csrf_token=session.get("csrf"),
                                          csrf_header=csrf.HEADER)  # fmt: skip


class _Login(Fixture):
    def __init__(self, who: _Who, api: bool, role: str | None = None) -> None:
        self.__prerequisites__ = [who]
        self.api, self.role = api, role

    def on_request(self, context: dict[str, Any]) -> None:
        user = me()
        if user is None:
            if self.api:
                raise fail(401, "login required")
            target = request.fullpath + (f"?{request.query_string}" if request.query_string else "")
            redirect(URL("auth/login", vars={"next": target}))
        if self.role is not None and user is not None and user["role"] != self.role:
            if self.api:
                raise fail(403, f"this needs the {self.role} role")
            raise HTTP(403, body=f"Forbidden: this page needs the {self.role} role.\n")


class _JsonCsrf(Fixture):
    def __init__(self, who: _Who) -> None:
        self.__prerequisites__ = [who]

    def on_request(self, context: dict[str, Any]) -> None:
        why = csrf.refusal(request.method, request.urlparts.scheme,
                           request.headers.get("Host") or "", request.headers.get("Origin"),
                           request.headers.get("Referer"), request.headers.get(csrf.HEADER),
                           session.get("csrf"))  # fmt: skip
        if why is not None:
            raise fail(403, why)


who = _Who()
page_login = _Login(who, api=False)
page_admin = _Login(who, api=False, role="admin")
api_login = _Login(who, api=True)
api_admin = _Login(who, api=True, role="admin")
json_csrf = _JsonCsrf(who)


def json_text(text: str) -> str:
    """``text``, JSON already (a cached answer), as the answer."""
    response.headers["Content-Type"] = "application/json"
    return text


def compact(data: Any) -> str:
    """``data`` as compact JSON for a big answer (py4web's own is indented and key-sorted:
    several times the bytes and the time for a chart's thousands of points)."""
    return json_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False))


def json_body(limit: int = 1 << 20) -> Any:
    """The request's JSON body (400 for anything else)."""
    if "json" not in (request.content_type or ""):
        raise fail(415, "send the body as application/json")
    raw = request.body.read(limit + 1)
    if len(raw) > limit:
        raise fail(413, f"body over {limit} bytes")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise fail(400, f"body: not JSON ({exc})") from None
