"""A ``report.html`` opened in Debian's Chromium through Playwright, offline.

:func:`launch` starts the browser; :func:`open_page` opens a file in a fresh context that lets
no request through but the file itself (every other one is failed and recorded in
:attr:`Visit.requests`) and records console errors and uncaught exceptions in
:attr:`Visit.errors`. :func:`drawn_charts` reads back every chart uPlot drew (canvas size,
painted pixels of the plot area, pixels of wanted colours; :func:`data_colours` names a
report's) and :func:`keep_screenshot` keeps a
full-page PNG under ``.suite/artifacts/<folder>/`` (``$WPL_SUITE_DIR/artifacts`` when set).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.support.require import require_tool
from waddleperf.report.render.charts import loss_colour
from waddleperf.report.render.model import Report

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Fewest painted pixels in a chart's plot area for it to count as drawn (not blank).
MIN_PAINTED = 1000

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


@contextmanager
def launch() -> Iterator[Browser]:
    """Debian's Chromium (skipped where it is missing, failed under CI), closed on exit."""
    require_tool(CHROMIUM, "chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser: Browser, path: Path) -> Iterator[Visit]:
    """``path`` loaded in a 1280 × 900 context of its own, closed on exit."""
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


def drawn_charts(
    visit: Visit, keys: Sequence[str], want: Mapping[str, list[str]] | None = None
) -> list[dict[str, Any]]:
    """Every chart of the page, checked drawn: exactly ``keys`` in order, no chart error, each
    canvas of non-zero size, wider than 300 CSS px, with at least :data:`MIN_PAINTED` painted
    pixels in its plot area — and at least 20 pixels of each colour ``want`` names for it."""
    drawn: list[dict[str, Any]] = visit.page.evaluate(_PIXELS_JS, dict(want or {}))
    assert [d["key"] for d in drawn] == list(keys)
    assert visit.page.locator(".chart-error").count() == 0
    for d in drawn:
        assert d["width"] > 0 and d["height"] > 0 and d["shown"] > 300, d
        assert d["painted"] > MIN_PAINTED, d
        assert all(n >= 20 for n in d["counts"]), d  # every wanted colour is on the canvas
    return drawn


def keep_screenshot(
    page: Page, name: str, folder: str = "report-render", min_bytes: int = 20_000
) -> Path:
    """A full-page PNG of ``page`` kept as a test artifact (checked to be a real picture of
    at least ``min_bytes``)."""
    root = Path(os.environ.get("WPL_SUITE_DIR") or REPO / ".suite")
    directory = root / "artifacts" / folder
    directory.mkdir(parents=True, exist_ok=True)
    shot = directory / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > min_bytes
    return shot


def data_colours(report: Report) -> dict[str, list[str]]:
    """The colours each chart's data is drawn in: a latency chart's loss marks (one per bucket
    with a median), the other charts' series."""
    want = {}
    for c in report.charts:
        if c.kind == "latency":
            median = c.series[2].values
            marks = {loss_colour(c.loss[i]) for i, v in enumerate(median) if v is not None}
            assert marks, c.key  # every latency chart has a bucket with records
            want[c.key] = sorted(marks)
        else:
            want[c.key] = [s.colour for s in c.series]
    return want
