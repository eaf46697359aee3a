"""Logging in: py4web's Auth checks the password, the form key is required, failures are
limited per account and per address, a disabled user's session ends, logout needs its key."""

from __future__ import annotations

from tests.integration.web.conftest import PASSWORD, Ui

LOGIN = "/waddleperf/auth/login"


def test_login_and_logout(ui: Ui) -> None:
    client = ui.client("127.0.1.1")
    page = client.get("/waddleperf/history")
    assert page.status == 303
    reply = client.login(ui.admin, PASSWORD)
    assert reply.status == 303 and reply.header("Location") == "/waddleperf/index"
    history = client.get("/waddleperf/history")
    assert history.status == 200 and ui.admin in history.text
    key = history.formkey("logout")
    refused = client.post_form("/waddleperf/auth/logout", {"_formname": "logout", "_formkey": "x"})
    assert refused.status == 403
    out = client.post_form("/waddleperf/auth/logout", {"_formname": "logout", "_formkey": key})
    assert out.status == 303 and out.header("Location") == LOGIN
    assert client.api("GET", "/waddleperf/api/history").status == 401


def test_wrong_password_is_refused(ui: Ui) -> None:
    client = ui.client("127.0.1.2")
    reply = client.login(ui.viewer, "Wrong-Horse-Battery-9!")
    assert reply.status == 401 and "Wrong e-mail or password." in reply.text
    assert client.api("GET", "/waddleperf/api/history").status == 401
    unknown = client.login("nobody@example.com", PASSWORD)
    assert unknown.status == 401 and "Wrong e-mail or password." in unknown.text


def test_login_needs_the_form_key(ui: Ui) -> None:
    client = ui.client("127.0.1.3")
    client.get(LOGIN)
    reply = client.post_form(LOGIN, {"email": ui.admin, "password": PASSWORD,
                                     "_formname": "login", "_formkey": "forged"})  # fmt: skip
    assert reply.status == 400 and "came from another site" in reply.text
    other = ui.client("127.0.1.3")  # a cross-site page: no session, so no key it could know
    fields = {"email": ui.admin, "password": PASSWORD, "_formname": "login"}
    reply = other.post_form(LOGIN, fields, origin="http://evil.example")
    assert reply.status == 400
    assert other.api("GET", "/waddleperf/api/history").status == 401


def test_next_is_kept_inside_the_app(ui: Ui) -> None:
    for target, expected in (("/waddleperf/fleet", "/waddleperf/fleet"),
                             ("https://evil.example/", "/waddleperf/index"),
                             ("//evil.example/waddleperf/", "/waddleperf/index")):  # fmt: skip
        client = ui.client("127.0.1.4")
        page = client.get(f"{LOGIN}?next={target}")
        reply = client.post_form(f"{LOGIN}?next={target}", {
            "email": ui.admin, "password": PASSWORD, "_formname": "login",
            "_formkey": page.formkey("login")})  # fmt: skip
        assert reply.header("Location") == expected, target


def test_failed_logins_are_limited_per_account(ui: Ui) -> None:
    email = "limited@example.com"
    ui.accounts.create(email, PASSWORD, "viewer")
    for n in range(3):  # per_account: 3, from three addresses
        assert ui.client(f"127.0.2.{n}").login(email, "Wrong-Horse-Battery-1!").status == 401
    blocked = ui.client("127.0.2.9").login(email, PASSWORD)
    assert blocked.status == 429 and "too many failed logins for this account" in blocked.text
    assert ui.client("127.0.2.9").login(ui.viewer, PASSWORD).status == 303


def test_failed_logins_are_limited_per_address(ui: Ui) -> None:
    address = "127.0.3.1"
    for n in range(30):  # per_address: 30, each on another (unknown) account
        reply = ui.client(address).login(f"guess{n}@example.com", "Wrong-Horse-Battery-1!")
        assert reply.status == 401, n
    blocked = ui.client(address).login(ui.viewer, PASSWORD)
    assert blocked.status == 429 and f"too many failed logins from {address}" in blocked.text
    assert ui.client("127.0.3.2").login(ui.viewer, PASSWORD).status == 303


def test_a_disabled_user_is_logged_out_and_cannot_log_in(ui: Ui) -> None:
    email = "leaver@example.com"
    user_id = ui.accounts.create(email, PASSWORD, "viewer")
    client, _ = ui.logged_in(email, "127.0.4.1")
    assert client.api("GET", "/waddleperf/api/history").status == 200
    ui.accounts.set_disabled(user_id, True)
    assert client.api("GET", "/waddleperf/api/history").status == 401
    reply = ui.client("127.0.4.2").login(email, PASSWORD)
    assert reply.status == 401 and "blocked" in reply.text.lower()
    ui.accounts.set_disabled(user_id, False)
    assert ui.client("127.0.4.3").login(email, PASSWORD).status == 303
