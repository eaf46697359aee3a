"""``report.html``: one self-contained page — every script and style inlined (uPlot vendored
under ``assets/uplot/``), no request to anywhere, so it opens offline and can be mailed around.

Bundles come from the field, so every string from the data is HTML-escaped where it is
written; the charts' data travels as JSON in a ``<script type="application/json">`` block with
``<``, ``>`` and ``&`` escaped (no ``</script>`` can end it early). On top of that the page's
Content-Security-Policy allows only its own inline scripts and styles (by SHA-256 hash) and no
network access at all: even markup that slipped through could neither run nor call out.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from waddleperf.report.render.charts import (
    BAND_INNER,
    BAND_OUTER,
    FULL_LOSS_COLOUR,
    LOSS_CLASSES,
    MEDIAN_COLOUR,
    NO_LOSS_FIGURE_COLOUR,
    Chart,
)
from waddleperf.report.render.model import NOTHING, Block, Report, Section, Table

UPLOT_VERSION = "1.6.32"
DATA_ID = "report-data"
_ASSETS = "waddleperf.report.render"


def inlinable(name: str, body: str) -> str:
    """``body`` when it can be inlined in a ``<script>`` or ``<style>`` element; a text that
    could close its element early (or open a comment there) raises ValueError naming it."""
    lowered = body.lower()
    for closing in ("</script", "</style", "<!--"):
        if closing in lowered:
            raise ValueError(f"asset {name} contains {closing!r}: it cannot be inlined")
    return body


@cache
def asset(name: str) -> str:
    """The text of a file under ``assets/`` (UTF-8), checked by :func:`inlinable`, so that a
    future update of a vendored file cannot break the page silently."""
    body = resources.files(_ASSETS).joinpath("assets", *name.split("/")).read_text("utf-8")
    return inlinable(name, body)


def _sha256(body: str) -> str:
    digest = hashlib.sha256(body.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def embed_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element: ``<``, ``>`` and ``&``
    written as ``\\u`` escapes, so neither ``</script>`` nor ``<!--`` can appear."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _loss_css() -> str:
    rules = [f".loss-{i}{{background:{c}}}" for i, (_, c, _, _) in enumerate(LOSS_CLASSES)]
    rules.append(f".loss-none{{background:{NO_LOSS_FIGURE_COLOUR}}}")
    return "\n".join(rules) + "\n"


def _loss_key() -> str:
    items = [
        f'<li><span class="swatch loss-{i}"></span>{escape(label)}</li>'
        for i, (_, _, label, _) in enumerate(LOSS_CLASSES)
    ]
    items.append('<li><span class="swatch loss-none"></span>no loss figure</li>')
    return '<ul class="loss-key" aria-label="loss colours">' + "".join(items) + "</ul>"


def _table(table: Table) -> str:
    head = "".join(
        f"<th{' class=num' if table.is_numeric(i) else ''}>{escape(h)}</th>"
        for i, h in enumerate(table.headers)
    )
    body = []
    for row in table.rows:
        cells = "".join(
            f"<td{' class=num' if table.is_numeric(i) else ''}>{escape(c)}</td>"
            for i, c in enumerate(row.cells)
        )
        body.append(f"<tr{' class=regressed' if row.highlight else ''}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _chart(chart: Chart) -> str:
    return (
        f'<figure class="chart chart-{chart.kind}">'
        f'<div class="plot" data-chart="{escape(chart.key)}"></div>'
        f"<figcaption>{escape(chart.title)}</figcaption></figure>"
    )


def _block(block: Block) -> str:
    out = [f"<h3>{escape(block.heading)}</h3>"] if block.heading else []
    if block.is_empty():
        return "".join([*out, f'<p class="none">{NOTHING}</p>'])
    out += [f"<p>{escape(line)}</p>" for line in block.lines]
    if any(c.kind == "latency" for c in block.charts):
        out.append(_loss_key())
    if block.charts:
        out.append('<div class="charts">' + "".join(_chart(c) for c in block.charts) + "</div>")
    if block.table is not None:
        rows = block.table.rows
        out.append(_table(block.table) if rows else f'<p class="none">{NOTHING}</p>')
    return "".join(out)


def _section(section: Section) -> str:
    blocks = "".join(_block(b) for b in section.blocks)
    return f'<section id="{section.key}"><h2>{escape(section.title)}</h2>{blocks}</section>'


def chart_data(report: Report) -> dict[str, Any]:
    """What the page's script draws: every chart and the colours of the latency charts."""
    return {
        "charts": [c.to_json() for c in report.charts],
        "loss_classes": [[upper, colour] for upper, colour, _, _ in LOSS_CLASSES],
        "colours": {
            "median": MEDIAN_COLOUR,
            "band_outer": BAND_OUTER,
            "band_inner": BAND_INNER,
            "full_loss": FULL_LOSS_COLOUR,
            "no_loss_figure": NO_LOSS_FIGURE_COLOUR,
        },
    }


def write(report: Report) -> str:
    """The page for ``report``, as text (UTF-8 when written)."""
    styles = [asset("uplot/uPlot.min.css"), asset("report.css") + _loss_css()]
    scripts = [asset("uplot/uPlot.iife.min.js"), asset("report.js")]
    policy = (
        "default-src 'none'; "
        f"script-src {' '.join(_sha256(s) for s in scripts)}; "
        f"style-src {' '.join(_sha256(s) for s in styles)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    nav = "".join(
        f'<a href="#{s.key}">{escape(s.title.split(":")[0])}</a>' for s in report.sections
    )
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="Content-Security-Policy" content="{escape(policy)}">',
            f'<meta name="generator" content="WaddlePerf (uPlot {UPLOT_VERSION})">',
            f"<title>{escape(report.title)}</title>",
            *(f"<style>{s}</style>" for s in styles),
            f"</head><body><header><h1>{escape(report.title)}</h1><nav>{nav}</nav></header>",
            "<main>",
            *(_section(s) for s in report.sections),
            "</main>",
            f'<script type="application/json" id="{DATA_ID}">',
            embed_json(chart_data(report)),
            "</script>",
            *(f"<script>{s}</script>" for s in scripts),
            "</body></html>\n",
        ]
    )
