"""JSON actions refuse cross-site requests: the Origin must be this UI's and the session's
token must come in the header (py4web checks neither for JSON actions by itself)."""

from __future__ import annotations

from tests.integration.web.conftest import Ui

REFRESH = "/waddleperf/api/refresh"


def test_cross_site_post_is_refused(ui: Ui) -> None:
    client, token = ui.logged_in(ui.admin, "127.0.5.1")
    evil = client.api("POST", REFRESH, {}, token=token, origin="http://evil.example")
    assert evil.status == 403 and "cross-site request refused" in evil.json()["error"]
    other_port = client.api("POST", REFRESH, {}, token=token, origin="http://127.0.0.1:8001")
    assert other_port.status == 403
    no_origin = client.api("POST", REFRESH, {}, token=token, origin=None)
    assert no_origin.status == 403
    referer = client.request("POST", REFRESH, b"{}", {
        "Content-Type": "application/json", "Referer": f"{client.origin}/waddleperf/history",
        "X-WaddlePerf-CSRF": token})  # fmt: skip
    assert referer.status == 200, referer.text


def test_the_token_header_is_required_and_must_match(ui: Ui) -> None:
    client, token = ui.logged_in(ui.admin, "127.0.5.2")
    missing = client.api("POST", REFRESH, {})
    assert missing.status == 403 and "header is missing" in missing.json()["error"]
    wrong = client.api("POST", REFRESH, {}, token=token[:-2] + "xx")
    assert wrong.status == 403 and "does not match" in wrong.json()["error"]
    _, other_token = ui.logged_in(ui.admin, "127.0.5.3")
    assert other_token != token
    assert client.api("POST", REFRESH, {}, token=other_token).status == 403
    good = client.api("POST", REFRESH, {}, token=token)
    assert good.status == 200 and set(good.json()) >= {"listed", "ingested", "known"}


def test_a_new_login_gets_a_new_token(ui: Ui) -> None:
    client, first = ui.logged_in(ui.admin, "127.0.5.4")
    assert client.get("/waddleperf/auth/login").header("Location") == "/waddleperf/index"
    again = client.get("/waddleperf/history").csrf_token()
    assert again == first
    _, second = ui.logged_in(ui.admin, "127.0.5.4")
    assert second != first
