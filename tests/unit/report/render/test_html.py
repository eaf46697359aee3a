"""``report.html``: self-contained (uPlot inlined, nothing fetched), every section, every string
from the data escaped, the charts' JSON safe inside its script element, a policy that lets only
the page's own scripts and styles run."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.support.report_summary import (
    HOSTILE_REASON,
    IMG_SERVER,
    SCRIPT_AGENT,
    empty_summary,
    hostile_summary,
    make_summary,
)
from waddleperf.report.render import html, sections


class Page(HTMLParser):
    """The parts of a page the tests look at, as a browser's parser sees them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._open: tuple[str, dict[str, str | None]] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = (tag, dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is None:
            self.text.append(data)
        elif self._open[0] == "script":
            self.scripts.append((self._open[1], data))
        else:
            self.styles.append(data)

    def of(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def _page(summary: dict[str, Any]) -> tuple[str, Page]:
    text = html.write(sections.build(summary))
    return text, Page(text)


def _hash(body: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


def test_self_contained_nothing_to_fetch() -> None:
    text, page = _page(make_summary())
    assert not page.of("link") and not page.of("img") and not page.of("iframe")
    assert all("src" not in a for a in page.of("script"))
    hrefs = [a.get("href") for a in page.of("a")]
    assert hrefs and all(h and h.startswith("#") for h in hrefs)
    assert "uPlot" in page.scripts[1][1] and "v1.6.32" in page.scripts[1][1]
    assert ".uplot" in page.styles[0]
    assert not re.search(r"https?://[^\s\"'<>]*\.(js|css)\b", text)


def test_policy_allows_exactly_the_inline_scripts_and_styles() -> None:
    _, page = _page(make_summary())
    (meta,) = [m for m in page.of("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    policy = dict(
        (d.split()[0], d.split()[1:]) for d in (meta.get("content") or "").split(";") if d.strip()
    )
    assert policy["default-src"] == ["'none'"]
    runnable = [body for attrs, body in page.scripts if attrs.get("type") != "application/json"]
    assert sorted(policy["script-src"]) == sorted(_hash(b) for b in runnable)
    assert sorted(policy["style-src"]) == sorted(_hash(s) for s in page.styles)
    assert "'unsafe-inline'" not in (meta.get("content") or "")


def test_chart_data_round_trips_through_the_json_block() -> None:
    summary = make_summary()
    report = sections.build(summary)
    page = Page(html.write(report))
    (block,) = [b for a, b in page.scripts if a.get("type") == "application/json"]
    data = json.loads(block)
    assert data == json.loads(json.dumps(html.chart_data(report)))
    assert [c["key"] for c in data["charts"]] == [c.key for c in report.charts]
    placed = [a.get("data-chart") for a in page.of("div") if "data-chart" in a]
    assert placed == [c.key for c in report.charts]


def test_every_section_is_there_even_empty() -> None:
    for summary in (make_summary(), empty_summary()):
        _, page = _page(summary)
        ids = [a.get("id") for a in page.of("section")]
        assert ids == [
            "overview",
            "probes",
            "latency",
            "geo",
            "escalations",
            "load",
            "regressions",
            "data-quality",
        ]
    text, page = _page(empty_summary())
    assert text.count('<p class="none">none</p>') >= 8
    assert not [a for a in page.of("div") if "data-chart" in a]


def test_regressed_rows_are_marked() -> None:
    _, page = _page(make_summary(regressions=True))
    assert len([a for a in page.of("tr") if a.get("class") == "regressed"]) == 1
    assert "REGRESSED" in "".join(page.text)


def test_data_quality_section_lists_the_skipped() -> None:
    text, _ = _page(make_summary(skipped=2))
    quality = text[text.index('<section id="data-quality">') :]
    assert "Bundles skipped: 2" in quality
    assert "bad-1.tar.gz" in quality and "unknown schema version 9" in quality


def test_strings_from_the_field_are_escaped() -> None:
    text, page = _page(hostile_summary())
    # the only elements are the page's own: no script, img or link came from the data
    assert [a for a in page.of("script") if a] == [
        {"type": "application/json", "id": "report-data"}
    ]
    assert len(page.of("script")) == 3
    assert not page.of("img") and not page.of("b")
    shown = "".join(page.text)
    assert SCRIPT_AGENT in shown and IMG_SERVER in shown and HOSTILE_REASON in shown
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in text


def test_json_block_cannot_be_closed_by_the_data() -> None:
    report = sections.build(hostile_summary())
    text = html.write(report)
    start = text.index('id="report-data">') + len('id="report-data">')
    block = text[start : text.index("</script>", start)]
    assert "<" not in block and ">" not in block and "&" not in block
    titles = [c["title"] for c in json.loads(block)["charts"]]
    assert f"{SCRIPT_AGENT} → {IMG_SERVER} (icmp)" in titles


def test_embed_json_escapes_markup_and_refuses_nan() -> None:
    assert html.embed_json({"a": "</script><!--&"}) == (
        '{"a":"\\u003c/script\\u003e\\u003c!--\\u0026"}'
    )
    with pytest.raises(ValueError):
        html.embed_json({"a": float("nan")})


def test_an_asset_that_would_close_its_element_is_refused() -> None:
    for name in ("uplot/uPlot.iife.min.js", "uplot/uPlot.min.css", "report.js", "report.css"):
        assert html.asset(name)  # the shipped ones inline cleanly
    for body in ("var s = '</script>';", "a{} </STYLE>", "<!-- x"):
        with pytest.raises(ValueError, match="cannot be inlined"):
            html.inlinable("evil.js", body)
    assert html.inlinable("ok.js", "if (a < b) {}") == "if (a < b) {}"


def test_loss_key_shows_smokepings_colours() -> None:
    text, _ = _page(make_summary())
    for colour in ("#26ff00", "#00b8ff", "#0059ff", "#5e00ff", "#7e00ff", "#dd00ff", "#ff0000"):
        assert colour in text
    assert text.count('<span class="swatch loss-') == 8
