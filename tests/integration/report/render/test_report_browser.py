"""``report.html`` opened in a real browser — Debian's Chromium through Playwright, offline:
no console error, no request but the file itself (every other one is failed and recorded),
every chart drawn by uPlot (a canvas of non-zero size whose plot area holds the chart's own
colours), names from the field inert. A full-page screenshot of each report is kept under
``.suite/artifacts/report-render/`` (``$WPL_SUITE_DIR/artifacts`` when set)."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.support.report_summary import (
    HOSTILE_REASON,
    SCRIPT_AGENT,
    empty_summary,
    hostile_summary,
    make_summary,
)
from tests.support.require import require_tool
from waddleperf.report.render import charts, render, sections
from waddleperf.report.render.model import Report

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[4]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# For every drawn chart: its canvas, its size, and how many pixels of its plot area have each
# of the wanted colours (within a small distance: anti-aliasing).
_PIXELS_JS = """
(want) => window.waddleperfCharts.map(function (d) {
  var u = d.plot, canvas = u.root.querySelector("canvas"), b = u.bbox;
  var img = canvas.getContext("2d").getImageData(b.left, b.top, b.width, b.height).data;
  var rgb = (want[d.key] || []).map(function (h) {
    return [1, 3, 5].map(function (i) { return parseInt(h.substr(i, 2), 16); });
  });
  var counts = rgb.map(function () { return 0; }), painted = 0;
  for (var i = 0; i < img.length; i += 4) {
    if (img[i + 3] === 0) { continue; }
    painted++;
    for (var k = 0; k < rgb.length; k++) {
      if (Math.abs(img[i] - rgb[k][0]) <= 16 && Math.abs(img[i + 1] - rgb[k][1]) <= 16 &&
          Math.abs(img[i + 2] - rgb[k][2]) <= 16 && img[i + 3] > 200) { counts[k]++; }
    }
  }
  return {key: d.key, kind: d.kind, width: canvas.width, height: canvas.height,
          shown: canvas.getBoundingClientRect().width, painted: painted, counts: counts};
})
"""


@dataclass
class Visit:
    """What a page did while it was open."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_tool(CHROMIUM, "chromium")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def _open(browser: Browser, path: Path) -> Generator[Visit, None, None]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    visit = Visit(page, path.resolve().as_uri())

    def gate(route: Route) -> None:  # anything but the page itself fails (and is recorded below)
        if route.request.url == visit.url:
            route.continue_()
        else:
            route.abort()

    page.route("**/*", gate)
    page.on("request", lambda r: None if r.url == visit.url else visit.requests.append(r.url))
    page.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.errors.append(str(e)))
    try:
        page.goto(visit.url, wait_until="load")
        yield visit
    finally:
        context.close()


@pytest.fixture
def visit(browser: Browser) -> Iterator[Any]:
    """Open a page: ``visit(path)`` returns its :class:`Visit`; closed at teardown."""
    opened: list[Generator[Visit, None, None]] = []

    def make(path: Path) -> Visit:
        opened.append(_open(browser, path))
        return next(opened[-1])

    try:
        yield make
    finally:
        for gen in opened:
            gen.close()


def _keep_screenshot(page: Page, name: str) -> Path:
    root = Path(os.environ.get("WPL_SUITE_DIR") or REPO / ".suite")
    directory = root / "artifacts" / "report-render"
    directory.mkdir(parents=True, exist_ok=True)
    shot = directory / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 20_000
    return shot


def _wanted_colours(report: Report) -> dict[str, list[str]]:
    want = {}
    for c in report.charts:
        if c.kind == "latency":
            # the factory's buckets: no loss (green), 10 % (blue), 60 % and all lost (red)
            want[c.key] = ["#26ff00", "#0059ff", charts.FULL_LOSS_COLOUR]
        else:
            want[c.key] = [s.colour for s in c.series]
    return want


def _check_charts(visit: Visit, report: Report) -> list[dict[str, Any]]:
    drawn: list[dict[str, Any]] = visit.page.evaluate(_PIXELS_JS, _wanted_colours(report))
    assert [d["key"] for d in drawn] == [c.key for c in report.charts]
    assert visit.page.locator(".chart-error").count() == 0
    for d in drawn:
        assert d["width"] > 0 and d["height"] > 0 and d["shown"] > 300, d
        assert d["painted"] > 1000, d
        assert all(n >= 20 for n in d["counts"]), d  # every wanted colour is on the canvas
    return drawn


def test_report_opens_offline_with_every_chart_drawn(tmp_path: Path, visit: Any) -> None:
    summary = make_summary(regressions=True)
    render(summary, tmp_path)
    report = sections.build(summary)
    opened = visit(tmp_path / "report.html")
    drawn = _check_charts(opened, report)
    assert {d["kind"] for d in drawn} == {"latency", "tiers", "profile"}
    page = opened.page
    assert page.locator("tr.regressed").count() == 1
    assert page.locator("#data-quality").inner_text().count("bad-") == 2
    print("screenshot:", _keep_screenshot(page, "report"))
    page.set_viewport_size({"width": 800, "height": 900})
    page.wait_for_function(
        "window.waddleperfCharts.every(function (d) { return d.plot.width < 800; })"
    )
    assert opened.errors == [] and opened.requests == []


def test_names_from_the_field_are_inert(tmp_path: Path, visit: Any) -> None:
    summary = hostile_summary()
    render(summary, tmp_path)
    opened = visit(tmp_path / "report.html")
    page = opened.page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#probes").inner_text().count(SCRIPT_AGENT) >= 1
    assert HOSTILE_REASON in page.locator("#escalations").inner_text()
    assert page.locator("main img, main script, main b").count() == 0
    _check_charts(opened, sections.build(summary))
    _keep_screenshot(page, "report-hostile-names")
    assert opened.errors == [] and opened.requests == []


def test_empty_report_says_none(tmp_path: Path, visit: Any) -> None:
    render(empty_summary(), tmp_path)
    opened = visit(tmp_path / "report.html")
    page = opened.page
    assert page.evaluate("window.waddleperfCharts.length") == 0
    assert page.locator("section").count() == 8
    assert page.locator("p.none").count() >= 8
    _keep_screenshot(page, "report-empty")
    assert opened.errors == [] and opened.requests == []


def test_the_checks_can_fail(tmp_path: Path, visit: Any) -> None:
    """The recorder sees what the report must not do: a request and a console error."""
    page_path = tmp_path / "bad.html"
    page_path.write_text(
        '<!DOCTYPE html><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>'
    )
    opened = visit(page_path)
    assert opened.requests == ["http://127.0.0.1:9/x.png"]
    assert any("boom" in e for e in opened.errors)
