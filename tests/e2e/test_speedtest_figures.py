"""The speed test client's arithmetic (figures.js), run in Chromium, gives the CLI probe's
figures (waddleperf.probes.librespeed) for the same input: one protocol, one arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.support.chromium import launch
from tests.support.speedtest_harness import write_site
from tests.support.static_site import serve_directory
from waddleperf.probes import librespeed

RTTS = [
    [5.0, 1.2, 0.9, 3.4, 1.1, 1.0],
    [2.0, 2.0],
    [9.0],
    [7.0, 0.3, 0.3, 0.3, 8.0, 0.2, 0.25],
]
TICKS = [(0.2, 0), (0.4, 0), (1.6, 1000), (1.8, 5000), (3.9, 90_000)]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    site = tmp_path_factory.mktemp("site")
    write_site(site)
    with serve_directory(site) as url, launch() as browser:
        p = browser.new_page()
        p.goto(url + "harness.html")
        p.wait_for_function("window.harnessReady === true")
        yield p


def _js(page: Page, body: str, arg: Any) -> Any:
    return page.evaluate(
        f"async (arg) => {{ const f = await import('./speedtest/figures.js'); {body} }}", arg
    )


@pytest.mark.parametrize("rtts", RTTS)
def test_ping_and_jitter_match_the_cli(page: Page, rtts: list[float]) -> None:
    got = _js(page, "return f.pingJitter(arg);", rtts)
    want = librespeed.ping_jitter(rtts)
    assert got["used"] == want.used and got["ping"] == want.ping
    assert got["jitter"] == (None if want.jitter is None else pytest.approx(want.jitter))


def test_grace_window_and_speed_match_the_cli(page: Page) -> None:
    got = _js(
        page,
        "const w = new f.Window(1.5); let c; for (const [t, b] of arg) c = w.tick(t, b);"
        "return [c, f.speedMbps(c.bytes, c.seconds)];",
        TICKS,
    )
    want = librespeed.measured_window(TICKS, 1.5)
    assert got[0] == {"bytes": want.n_bytes, "seconds": pytest.approx(want.seconds),
                      "graceDone": want.grace_applied}  # fmt: skip
    assert got[1] == pytest.approx(librespeed.speed_mbps(want.n_bytes, want.seconds))


def test_endpoints_ask_for_cors_and_bust_caches(page: Page) -> None:
    url = _js(page, "return f.endpoint(arg, 'garbage.php', {ckSize: 4});", "http://h:1/backend")
    assert url.startswith("http://h:1/backend/garbage.php?cors=true&r=0.") and "ckSize=4" in url
