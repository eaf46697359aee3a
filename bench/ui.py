"""The UI's History data API over 1 million result rows, timed server-side.

The catalog comes from the report benchmark's generator (:mod:`tests.support.fleet`, the same
spec as ``bench/report.py``: 20 agents, 3 servers; 67 000 bundles ≈ 1.0 M result rows),
ingested once with ``waddleperf report`` and cached under ``--data``. Then, as a controller
calls it for a typical History page, ``--calls`` times each: the listing page (50 rows) and
the charts' JSON (latency bands, loss, throughput: what the app sends) of one day and of one
week, each call a different window (so uncached: the window moves by a minute per call), and
again with the cache warm. Then the same through the UI's WSGI application, as the History
page's requests (login and CSRF fixtures, controllers, JSON encoding: the data API's
server-side time), one by one and then both at once on two threads, as the page's script
sends them (the time until both have answered). Prints p50 / p95 in ms. Goal (the issue's):
p95 ≤ 200 ms. Not a test: figures go to docs/performance.md.
Run: ``python -m bench.ui [--bundles 67000] [--calls 50]``.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.report import WADDLEPERF, dataset, fleet_digest
from tests.support.fleet import FleetSpec
from waddleperf.webdata import history, series
from waddleperf.webdata.store import Catalog
from waddleperf.webdata.view import ViewState

#: The report benchmark's fleet with three servers (≈ 15 result rows a bundle).
SPEC = FleetSpec(agents=20, servers=3)


def catalog_of(data: Path, bundles: int) -> Path:
    """The catalog of ``bundles`` fleet bundles (ingested once)."""
    source = dataset(data, SPEC, bundles)
    path = data / f"ui-{fleet_digest(SPEC)}-{bundles}.duckdb"
    if not path.exists():
        subprocess.run([WADDLEPERF, "report", str(source), "--catalog", str(path), "--sql",
                        "SELECT count(*) FROM results"], check=True)  # fmt: skip
    return path


def page(cat: Catalog, span: timedelta, shift: int) -> dict[str, Any]:
    """What a History page asks for: the first listing page and the charts of the window."""
    until = SPEC.start + timedelta(hours=30) + timedelta(minutes=shift)
    state = ViewState(since=until - span, until=until, per_page=50)
    return {"listing": history.listing(cat, state), "charts": series.charts_json(cat, state)}


def timed(calls: int, fn: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(calls):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def quantiles(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20, method="inclusive")
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {q[18]:7.1f} ms   max {max(ms):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=67_000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "wp-bench")
    parser.add_argument("--catalog", type=Path, help="an existing catalog instead")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    path = args.catalog or catalog_of(args.data, args.bundles)
    cat = Catalog(path)
    try:
        with cat.cursor() as cur:
            rows = cur.execute("SELECT count(*) FROM store.results").fetchall()[0][0]
        print(f"catalog {path}: {rows} result rows", file=sys.stderr)
        page(cat, timedelta(days=1), -1)  # warm-up: DuckDB reads the file's blocks once
        gc.collect()
        gc.freeze()  # as the UI does once started (waddleperf.web.launch.settle_heap)
        for name, span in (("day", timedelta(days=1)), ("week", timedelta(days=7))):
            listing = timed(args.calls, lambda i, s=span: history.listing(  # type: ignore[misc]
                cat, ViewState(since=SPEC.start + timedelta(minutes=i), until=SPEC.start
                               + s + timedelta(minutes=i))))  # fmt: skip
            charts = timed(args.calls, lambda i, s=span: series.charts_json(  # type: ignore[misc]
                cat, ViewState(since=SPEC.start + timedelta(minutes=i), until=SPEC.start
                               + s + timedelta(minutes=i))))  # fmt: skip
            whole = timed(args.calls, lambda i, s=span: page(cat, s, 1000 + i))  # type: ignore[misc]
            cached = timed(args.calls, lambda _i, s=span: page(cat, s, 0))  # type: ignore[misc]
            print(f"{name:>4} listing        {quantiles(listing)}")
            print(f"{name:>4} charts         {quantiles(charts)}")
            print(f"{name:>4} page, uncached {quantiles(whole)}")
            print(f"{name:>4} page, cached   {quantiles(cached)}", flush=True)
    finally:
        cat.close()
    through_the_app(path, args.calls)


def through_the_app(catalog: Path, calls: int) -> None:
    """The same calls as a browser makes them: HTTP requests into the UI's WSGI application
    (login and CSRF fixtures, the controllers, JSON encoding), no socket. Server-side time."""
    from tests.support.ui_app import ui_app
    from tests.support.wsgi_client import WsgiClient
    from waddleperf.web.runtime import CATALOG_FILE, build

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "ui"
        data.mkdir()
        shutil.copyfile(catalog, data / CATALOG_FILE)
        (Path(tmp) / "none").mkdir()
        runtime = build(overrides={"ui.data_dir": str(data), "ui.results": [f"{tmp}/none"],
                                   "ui.refresh_s": 0}, environ={})  # fmt: skip
        try:
            client = ui_app(runtime, {"bench@example.com": "viewer"}).logged_in("bench@example.com")
            for warm in ("history", "history/charts"):  # the new catalog handle reads its blocks
                client.request("GET", f"/waddleperf/api/{warm}?range=7d&until=2026-11-05T00:00",
                               headers={"Accept": "application/json"})  # fmt: skip
            # the page's two requests at once, as its script sends them (Promise.all), each
            # on its own client with the same session (Rocket3 serves each on a thread)
            other = WsgiClient(client.app, cookies=dict(client.cookies))
            both = ThreadPoolExecutor(2)
            shift = 0
            for name, span in (("day", timedelta(days=1)), ("week", timedelta(days=7))):

                def get(c: WsgiClient, what: str, i: int, s: timedelta = span) -> None:
                    since = SPEC.start + timedelta(minutes=i)
                    query = f"since={since:%Y-%m-%dT%H:%M}&until={since + s:%Y-%m-%dT%H:%M}"
                    reply = c.request("GET", f"/waddleperf/api/{what}?{query}",
                                      headers={"Accept": "application/json"})  # fmt: skip
                    assert reply.status == 200, reply.text[:300]

                for what in ("history", "history/charts"):
                    label = f"{name} api/{what}"
                    ms = timed(calls, lambda i, w=what, b=shift: get(client, w, b + i))  # type: ignore[misc]
                    print(f"{label:<25} {quantiles(ms)}", flush=True)
                shift += calls

                def page_at_once(i: int, base: int = shift) -> None:
                    jobs = [both.submit(get, client, "history", base + i),
                            both.submit(get, other, "history/charts", base + i)]  # fmt: skip
                    for job in jobs:
                        job.result()

                label = f"{name} page (both at once)"
                print(f"{label:<25} {quantiles(timed(calls, page_at_once))}", flush=True)
                shift += calls
            both.shutdown()
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
