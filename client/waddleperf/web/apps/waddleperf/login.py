"""Log in and out: py4web's Auth checks the password, the UI's limiter counts failures per
client address and per account first, and both forms carry py4web's form key."""

from __future__ import annotations

from typing import Any

from py4web import URL, action, redirect, request, response
from py4web.utils.form import Form, FormStyleDefault
from pydal import Field
from pydal.validators import IS_EMAIL, IS_NOT_EMPTY

from waddleperf.web import csrf

from .common import auth, runtime, session
from .guards import me, who

APP_PREFIX = "/waddleperf/"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this app, else its index (no open redirect)."""
    if (
        target
        and target.startswith(APP_PREFIX)
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return str(URL("index"))


def _client_address() -> str:
    # The socket's peer, never X-Forwarded-For (anyone can send that header).
    return str(request.environ.get("REMOTE_ADDR") or "unknown")


def login_form() -> Form:
    """The login form (e-mail, password)."""
    return Form([Field("email", label="E-mail", requires=[IS_NOT_EMPTY(), IS_EMAIL()]),
                 Field("password", "password", label="Password", requires=IS_NOT_EMPTY())],
                form_name="login", csrf_session=session, formstyle=FormStyleDefault,
                submit_value="Log in", dbio=False)  # fmt: skip


def logout_form() -> Form:
    """The logout button's form."""
    return Form([Field("confirm", "boolean", default=True, readable=False, writable=False)],
                form_name="logout", csrf_session=session, formstyle=FormStyleDefault,
                submit_value="Log out", dbio=False)  # fmt: skip


@action("auth/login", method=["GET", "POST"])
@action.uses("login.html", who)
def login() -> dict[str, Any]:
    """The login page; on success, to ``next``."""
    target = safe_next(request.query.get("next"))
    if me() is not None:
        redirect(target)
    form = login_form()
    error = None
    if form.accepted:
        email = str(form.vars["email"]).strip().lower()
        address = _client_address()
        error = runtime.limiter.refusal(address, email)
        if error is not None:
            response.status = 429
        else:
            user, why = auth.login(email, str(form.vars["password"]))
            if user is None:
                runtime.limiter.failed(address, email)
                error = "Wrong e-mail or password." if why == "Invalid Credentials" else str(why)
                response.status = 401
            else:
                runtime.limiter.succeeded(email)
                session.clear()
                auth.store_user_in_session(user["id"])
                session["csrf"] = csrf.new_token()
                redirect(target)
    elif form.submitted:
        response.status = 400
        error = "The form expired or came from another site: please log in again."
        if form.errors:
            error = "; ".join(f"{k}: {v}" for k, v in form.errors.items())
    return {"page": "login", "form": form, "error": error}


@action("auth/logout", method=["POST"])
@action.uses(who)
def logout() -> str:
    """End the session (a POST with the logout form's key)."""
    form = logout_form()
    if form.accepted:
        session.clear()
        redirect(URL("auth/login"))
    response.status = 403
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return "Log-out refused: the form expired or came from another site; reload the page.\n"
