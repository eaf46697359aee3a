"""Pure request/response shapes of the target API (no framework, no I/O)."""

from __future__ import annotations

import math
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
TABLE = "testdata"


@dataclass(frozen=True)
class Page:
    """Which slice of the (growing) table to return; ``offset`` counts rows, newest first."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def _bounded_int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        value = default
    return min(max(value, low), high)


def parse_page(query: Mapping[str, str]) -> Page:
    """``?page=&page_size=`` read leniently: bad or out-of-range values fall back into range."""
    size = _bounded_int(query.get("page_size"), DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    number = _bounded_int(query.get("page"), 1, 1, 1_000_000)
    return Page(number, size)


def row_payload(row_id: int, name: str, value: float, created_at: datetime | str) -> dict[str, Any]:
    """One TestData row as JSON."""
    stamp = created_at.isoformat() if isinstance(created_at, datetime) else str(created_at)
    return {"id": row_id, "name": name, "value": value, "created_at": stamp}


def page_payload(rows: Sequence[dict[str, Any]], count: int, page: Page) -> dict[str, Any]:
    """A page of rows with the totals a client needs to walk the table."""
    return {
        "count": count,
        "page": page.number,
        "page_size": page.size,
        "pages": max(1, math.ceil(count / page.size)),
        "results": list(rows),
    }


def new_row_values() -> tuple[str, float]:
    """Name and value of a row the background task inserts."""
    name = "item-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    return name, round(random.uniform(0, 1000), 3)


def task_payload(task_id: str, backend: str) -> dict[str, Any]:
    """Answer of ``POST /api/task/`` (HTTP 202)."""
    return {"task_id": task_id, "backend": backend, "status": "queued"}


def error_payload(exc: BaseException) -> dict[str, Any]:
    """Answer of a request that raised (HTTP 500)."""
    return {"error": type(exc).__name__, "detail": str(exc), "status": 500}


def trigger_error() -> float:
    """What ``POST /api/error/`` does on purpose: divide by zero."""
    zero = 0
    return 1 / zero


def warmup_payload(components: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Overall status of ``GET /api/warmup/``: ok only if every component is ok or disabled."""
    healthy = all(c.get("status") in ("ok", "disabled") for c in components.values())
    return {"status": "ok" if healthy else "degraded", "components": dict(components)}


INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WaddlePerf target ({framework})</title>
<style>body{{font-family:sans-serif;margin:2em}}button{{margin:.3em}}
pre{{background:#f4f4f4;padding:1em;max-height:20em;overflow:auto}}</style></head>
<body><h1>WaddlePerf target: {framework}</h1>
<p>Every button calls the API and shows the JSON answer.</p>
<button id="data" onclick="call('GET','/api/data/')">Load data</button>
<button id="task" onclick="call('POST','/api/task/')">Queue task</button>
<button id="error" onclick="call('POST','/api/error/')">Raise error</button>
<button id="warmup" onclick="call('GET','/api/warmup/')">Warm up</button>
<pre id="out">(no call yet)</pre>
<script>
async function call(method, path) {{
  const out = document.getElementById('out');
  try {{
    const r = await fetch(path, {{method}});
    out.textContent = r.status + '\\n' + JSON.stringify(await r.json(), null, 2);
  }} catch (e) {{ out.textContent = String(e); }}
}}
</script></body></html>
"""


def index_html(framework: str) -> str:
    """The home page, naming the framework that served it."""
    return INDEX_HTML.format(framework=framework)
