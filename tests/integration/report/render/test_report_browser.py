"""``report.html`` opened in a real browser — Debian's Chromium through Playwright, offline:
no console error, no request but the file itself (every other one is failed and recorded),
every chart drawn by uPlot (a canvas of non-zero size whose plot area holds the chart's own
colours), names from the field inert. A full-page screenshot of each report is kept under
``.suite/artifacts/report-render/`` (``$WPL_SUITE_DIR/artifacts`` when set)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.support.report_browser import Visit, drawn_charts, keep_screenshot, launch, open_page
from tests.support.report_summary import (
    HOSTILE_REASON,
    SCRIPT_AGENT,
    empty_summary,
    hostile_summary,
    make_summary,
)
from waddleperf.report.render import charts, render, sections
from waddleperf.report.render.model import Report


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as launched:
        yield launched


@pytest.fixture
def visit(browser: Browser) -> Iterator[Any]:
    """Open a page: ``visit(path)`` returns its :class:`Visit`; closed at teardown."""
    with ExitStack() as stack:
        yield lambda path: stack.enter_context(open_page(browser, path))


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
    return drawn_charts(visit, [c.key for c in report.charts], _wanted_colours(report))


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
    print("screenshot:", keep_screenshot(page, "report"))
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
    keep_screenshot(page, "report-hostile-names")
    assert opened.errors == [] and opened.requests == []


def test_empty_report_says_none(tmp_path: Path, visit: Any) -> None:
    render(empty_summary(), tmp_path)
    opened = visit(tmp_path / "report.html")
    page = opened.page
    assert page.evaluate("window.waddleperfCharts.length") == 0
    assert page.locator("section").count() == 8
    assert page.locator("p.none").count() >= 8
    keep_screenshot(page, "report-empty")
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
