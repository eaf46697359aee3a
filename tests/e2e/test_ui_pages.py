"""The UI end to end in Debian's headless Chromium: a real server, one ``autoperf --once``
cycle stored locally, ``waddleperf ui`` over that configuration, an admin made with
``ui create-admin``. Log in (a wrong password refused, every page refused without login),
run a udp probe and see its figures, run the speed test to non-zero figures, browse the
history and export CSV, see the agent and its tiers on the fleet page, a cross-site POST
refused; every page at 1280 and 390 px without horizontal scrolling, screenshots kept in
.suite/artifacts/ui/."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.support.agentconf import AgentRun, quick_tiers, server_entry, write_agent
from tests.support.chromium import keep_screenshot, launch
from tests.support.server import LocalServer, start_server
from tests.support.ui_process import PASSWORD, UiProcess, create_admin, start_ui

pytestmark = pytest.mark.slow

ADMIN = "admin@example.com"
PAGES = ("run", "speedtest", "history", "fleet", "users")
SHOTS = "ui"
#: Fields a person cannot name: no <label for>, no aria-label.
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.id || e.name)"""
#: A POST from the UI's own page, as its scripts send them: the status.
OWN_POST = """async ([url, token]) => (await fetch(url, {method: "POST", body: "{}",
  headers: {"Content-Type": "application/json", "X-WaddlePerf-CSRF": token}})).status"""


def _shot(page: Page, name: str) -> None:
    keep_screenshot(page, name, SHOTS, min_bytes=4_000)


@dataclass
class Stack:
    server: LocalServer
    agent: AgentRun
    ui: UiProcess

    def url(self, path: str) -> str:
        return f"{self.ui.url}/waddleperf/{path}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("ui-e2e")
    server = start_server(tmp, services=("http", "tcp_echo", "udp_echo"))
    try:
        agent = write_agent(tmp, {
            "agent": {"id": "e2e-agent"}, "servers": [server_entry(server, "lo")],
            "tiers": quick_tiers(), "ui": {"data_dir": str(tmp / "ui-data"), "refresh_s": 0,
                                           "allowed_networks": ["127.0.0.0/8"]}})  # fmt: skip
        once = agent.run("--once", timeout=120)
        assert once.returncode == 0, once.stderr[-2000:]
        assert agent.bundles(), once.stderr[-2000:]
        made = create_admin(tmp, ADMIN, "--config", str(agent.config))
        assert made.returncode == 0, made.stderr
        ui = start_ui(tmp, "--config", str(agent.config))
        try:
            yield Stack(server, agent, ui)
        finally:
            code = ui.stop()
            assert "Traceback" not in ui.text(), ui.text()[-3000:]
            assert code == 0
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def _login(page: Page, stack: Stack, password: str = PASSWORD) -> None:
    page.goto(stack.url("auth/login"))
    page.fill("#login-email", ADMIN)
    page.fill("#login-password", password)
    page.click("#login-submit")


def _admin_page(browser: Browser, stack: Stack, width: int = 1280) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 900},
                               accept_downloads=True).new_page()  # fmt: skip
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    _login(page, stack)
    page.wait_for_url("**/waddleperf/run")
    return page


def _no_page_errors(page: Page) -> None:
    assert page.errors == []  # type: ignore[attr-defined]


def test_login_is_required_and_a_wrong_password_refused(browser: Browser, stack: Stack) -> None:
    page = browser.new_context().new_page()
    for name in PAGES:
        page.goto(stack.url(name))
        assert "/waddleperf/auth/login?next=" in page.url, name
    _shot(page, "login")
    _login(page, stack, "Wrong-Horse-Battery-1!")
    assert "Wrong e-mail or password." in page.inner_text("#login-error")
    assert "/auth/login" in page.url
    _login(page, stack)
    page.wait_for_url("**/waddleperf/run")
    assert ADMIN in page.inner_text("header")
    page.click("form.logout button")
    page.wait_for_url("**/waddleperf/auth/login")
    page.goto(stack.url("history"))
    assert "/auth/login" in page.url


def test_a_cross_site_post_is_refused(browser: Browser, stack: Stack) -> None:
    page = _admin_page(browser, stack)
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    assert token
    refresh = stack.url("api/refresh")
    evil = page.request.post(refresh, headers={"Origin": "http://evil.example",
                                               "X-WaddlePerf-CSRF": token}, data="{}")  # fmt: skip
    assert evil.status == 403 and "cross-site" in evil.json()["error"]
    no_token = page.request.post(refresh, headers={"Origin": stack.ui.url}, data="{}")
    assert no_token.status == 403
    own = page.evaluate(OWN_POST, [refresh, token])
    assert own == 200


def test_run_a_udp_probe(browser: Browser, stack: Stack) -> None:
    page = _admin_page(browser, stack)
    page.select_option("#run-kind", "udp")
    page.wait_for_selector("#run-form [name=target]")
    page.fill("#run-form [name=target]", f"127.0.0.1:{stack.server.udp_echo_port}")
    page.fill("#run-form [name=count]", "30")
    page.fill("#run-form [name=interval_s]", "0.02")
    page.click("#run-submit")
    page.wait_for_selector("#run[data-state=done]", timeout=30_000)
    lines = page.inner_text("#run-lines")
    assert "seq=29" in lines
    result = page.inner_text("#run-result")
    assert "received_count" in result and "30" in result
    assert "stored" in page.inner_text("#run-stored").lower()
    _shot(page, "run")
    _no_page_errors(page)


def test_the_speed_test_reads_non_zero_figures(browser: Browser, stack: Stack) -> None:
    page = _admin_page(browser, stack)
    page.goto(stack.url("speedtest"))
    page.fill("#speed-duration", "2")
    page.click("#speed-start")
    page.wait_for_selector("#speedtest[data-state=stored]", timeout=90_000)
    assert "Stored as" in page.inner_text("#speed-stored")
    _shot(page, "speedtest")
    page.request.post(stack.url("api/refresh"), headers={
        "Origin": stack.ui.url, "X-WaddlePerf-CSRF": page.get_attribute(
            'meta[name="csrf-token"]', "content") or ""}, data="{}")  # fmt: skip
    rows = page.request.get(stack.url("api/history?kind=speedtest")).json()["rows"]
    browser_rows = [r for r in rows if r["throughput_bps"]]
    assert browser_rows and browser_rows[0]["throughput_bps"] > 1e6
    assert browser_rows[0]["latency_ms"] > 0
    _no_page_errors(page)


def test_history_after_autoperf_and_csv_export(browser: Browser, stack: Stack) -> None:
    page = _admin_page(browser, stack)
    page.goto(stack.url("history"))
    page.wait_for_selector("#history[data-state=ready]", timeout=20_000)
    table = page.inner_text("#history-table")
    assert "\tudp\t" in table and "\ttcp\t" in table and "e2e-agent" in table
    with page.expect_download() as info:
        page.click("#export-csv")
    data = Path(info.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(data)))
    kinds = {r["kind"] for r in rows}
    assert {"probe.udp", "probe.tcp", "probe.http"} <= kinds, kinds
    assert all(r["agent"] == "e2e-agent" for r in rows)
    page.click("#history-table tbody tr")
    page.wait_for_function(  # "Loading…" first, then the record
        """() => (document.querySelector("#history-detail")?.textContent || "")
                 .includes('"metrics"')""",
        timeout=20_000,
    )
    assert "view=detail" in page.url
    _shot(page, "history")
    _no_page_errors(page)


def test_the_fleet_shows_the_agent_and_its_tiers(browser: Browser, stack: Stack) -> None:
    page = _admin_page(browser, stack)
    page.goto(stack.url("fleet"))
    page.wait_for_selector("#fleet[data-state=ready]", timeout=20_000)
    agents = page.inner_text("#fleet-agents")
    assert "e2e-agent" in agents and "tier 1" in agents.lower()
    assert "lo" in agents
    config = page.inner_text("#fleet-config")
    assert page.inner_text("#fleet-config .badge") == "valid", config
    assert "e2e-agent" in config and "has errors" not in config, config
    _shot(page, "fleet")
    _no_page_errors(page)


def test_users_page_adds_a_viewer(browser: Browser, stack: Stack) -> None:
    page = _admin_page(browser, stack)
    page.goto(stack.url("users"))
    page.fill("#add-email", "viewer@example.com")
    page.fill("#add-password", PASSWORD)
    page.select_option("#add-role", "viewer")
    page.click("#add-user button[type=submit]")
    page.wait_for_selector('tr[data-email="viewer@example.com"]')
    _shot(page, "users")


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_fits_the_width(browser: Browser, stack: Stack, width: int) -> None:
    page = _admin_page(browser, stack, width)
    for name in PAGES:
        page.goto(stack.url(name))
        page.wait_for_load_state("networkidle")
        overflow: Any = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} at {width} px scrolls sideways by {overflow} px"
        _shot(page, f"{name}-{width}")
        labels_missing = page.evaluate(UNLABELLED)
        assert labels_missing == [], (name, labels_missing)
    _no_page_errors(page)
