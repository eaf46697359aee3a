"""Every route of the UI refuses a request without login (pages redirect to the login page,
API calls get 401), viewer-only users get 403 on admin routes, and the front door (``/``,
other apps, big bodies) behaves. Routes are read from py4web's own table, so a route added
later is covered without touching this test."""

from __future__ import annotations

import re

import pytest

from tests.integration.web.conftest import PASSWORD, Ui

OPEN = {"/waddleperf/auth/login", "/waddleperf/auth/logout"}
ADMIN_PREFIXES = ("/waddleperf/run", "/waddleperf/speedtest", "/waddleperf/users",
                  "/waddleperf/api/kinds", "/waddleperf/api/form", "/waddleperf/api/jobs",
                  "/waddleperf/api/speedtest")  # fmt: skip


def routes() -> list[tuple[str, str]]:
    from py4web.core import Reloader

    found = []
    for entry in Reloader.ROUTES["waddleperf"]:
        rule = re.sub(r"<bundle_id:int>", "1", entry["rule"])
        rule = re.sub(r"<[^>]+>", "x1", rule)
        if "/static/" in rule or rule in OPEN:
            continue
        found.append((entry["method"], rule))
    return sorted(set(found))


def test_the_route_table_is_what_the_app_serves(ui: Ui) -> None:
    found = routes()
    assert len(found) >= 20, found
    assert ("GET", "/waddleperf/history") in found and ("POST", "/waddleperf/api/jobs") in found


def test_every_route_without_login_is_refused(ui: Ui) -> None:
    client = ui.client()
    for method, path in routes():
        api = "/api/" in path
        headers = {"Accept": "application/json" if api else "text/html",
                   "Origin": client.origin}  # fmt: skip
        reply = client.request(method, path, b"{}" if method == "POST" else b"",
                               {**headers, "Content-Type": "application/json"})  # fmt: skip
        if api:
            assert reply.status == 401, (method, path, reply.status, reply.text[:200])
            assert reply.json() == {"error": "login required"}
        else:
            assert reply.status == 303, (method, path, reply.status)
            location = reply.header("Location") or ""
            assert location.startswith("/waddleperf/auth/login?next="), (path, location)


def test_a_viewer_gets_403_on_every_admin_route(ui: Ui) -> None:
    client, token = ui.logged_in(ui.viewer)
    admin_routes = [(m, p) for m, p in routes() if p.startswith(ADMIN_PREFIXES)]
    assert len(admin_routes) >= 8
    for method, path in admin_routes:
        reply = client.api(method, path, {} if method == "POST" else None, token=token)
        assert reply.status == 403, (method, path, reply.status, reply.text[:200])
    for path in ("/waddleperf/history", "/waddleperf/fleet"):
        assert client.get(path).status == 200
    assert client.api("GET", "/waddleperf/api/history").status == 200
    assert client.get("/waddleperf/index").header("Location") == "/waddleperf/history"


def test_front_door(ui: Ui) -> None:
    client = ui.client()
    root = client.get("/")
    assert root.status == 303 and root.header("Location") == "/waddleperf/"
    assert (
        client.get("/waddleperf/").header(
            "Location",
        )
        is not None
    )
    for path in ("/_dashboard", "/_dashboard/ticket/x", "/_default/index", "/other/x"):
        assert client.get(path).status == 404, path
    big = client.request("POST", "/waddleperf/api/refresh", b"",
                         {"Content-Length": str(10 << 20)})  # fmt: skip
    assert big.status == 413, (big.status, big.text[:200])  # refused before login is asked
    small = client.request("POST", "/waddleperf/api/refresh", b"{}",
                           {"Content-Type": "application/json"})  # fmt: skip
    assert small.status == 401, (small.status, small.text[:200])
    page = client.get("/waddleperf/auth/login")
    assert page.status == 200
    policy = page.header("Content-Security-Policy") or ""
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.header("X-Frame-Options") == "DENY"
    assert page.header("X-Content-Type-Options") == "nosniff"
    # the speed test may reach exactly the configured servers' origins
    assert f"http://127.0.0.1:{ui.server.http_port}" in policy


def test_static_assets_are_served_locally(ui: Ui) -> None:
    client = ui.client()
    reply = client.get("/waddleperf/static/js/speedtest/page.js")
    assert reply.status == 200 and b"startSpeedTest" in reply.body


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_session_cookie_flags(ui: Ui, scheme: str) -> None:
    client = ui.client(remote_addr="127.0.0.9", scheme=scheme)
    reply = client.login(ui.admin, PASSWORD)
    assert reply.status == 303
    cookies = [c for c in reply.all("Set-Cookie") if c.startswith("waddleperf_session=")]
    assert cookies, reply.headers
    flags = cookies[-1].lower()
    assert "httponly" in flags and "samesite=strict" in flags
    assert ("secure" in flags.split("; ")) == (scheme == "https"), flags
