"""History: the filtered result listing, one record's detail, CSV and JSON export.

Every function takes the :class:`~waddleperf.webdata.store.Catalog` and a
:class:`~waddleperf.webdata.view.ViewState` and reads the report's ``results`` view under the
view's filters (:mod:`waddleperf.report.scope`). Times are RFC 3339 UTC strings. The chart
series are in :mod:`waddleperf.webdata.series`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from waddleperf.report.query import _plain
from waddleperf.report.scope import literal
from waddleperf.webdata.records import RecordId, parse_record_id
from waddleperf.webdata.store import Catalog
from waddleperf.webdata.view import ViewState

#: Columns of a listing row (plus its ``id``), in order.
COLUMNS = ("agent", "server", "kind", "target", "step", "tier", "started_at", "finished_at",
           "status", "error", "latency_ms", "latency_p95_ms", "loss_ratio", "jitter_ms",
           "throughput_bps")  # fmt: skip
#: Export columns: the listing's, then the record's maps as JSON text.
EXPORT_COLUMNS = ("id", *COLUMNS, "country", "asn", "metrics", "params", "info")
ORDER = "started_at DESC, bundle_id DESC, kind"
#: Rows fetched from DuckDB at a time while exporting (memory stays bounded by it).
EXPORT_BATCH = 2000
ExportFormat = Literal["csv", "json"]


def _row(names: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
    out = {n: _plain(v) for n, v in zip(names, row, strict=True)}
    bundle, started = out.pop("bundle_id"), row[names.index("started_at")]
    return {"id": str(RecordId(int(bundle), started, str(out["kind"]))), **out}


def listing(cat: Catalog, state: ViewState, now: datetime | None = None) -> dict[str, Any]:
    """One page of records, newest first: ``{"total", "page", "per_page", "pages", "rows"}``."""
    filters = state.filters(now or datetime.now(UTC))

    def compute() -> dict[str, Any]:
        with cat.scoped(filters) as cur:
            total = int(cur.execute("SELECT count(*) FROM results").fetchall()[0][0])
            cols = ", ".join(("bundle_id", *COLUMNS))
            cursor = cur.execute(
                f"SELECT {cols} FROM results ORDER BY {ORDER} LIMIT ? OFFSET ?",
                [state.per_page, (state.page - 1) * state.per_page],
            )
            names = [d[0] for d in cursor.description or []]
            rows = [_row(names, r) for r in cursor.fetchall()]
        pages = max(1, -(-total // state.per_page))
        return {"total": total, "page": state.page, "per_page": state.per_page,
                "pages": pages, "rows": rows}  # fmt: skip

    return cat.cached(("listing", filters, state.page, state.per_page), compute)


def detail(cat: Catalog, record: str) -> dict[str, Any] | None:
    """The raw record ``record`` (an id from a listing) with its bundle; None if absent."""
    rid = parse_record_id(record)
    with cat.cursor() as cur:
        cursor = cur.execute(
            "SELECT r.*, b.location, b.source, b.run_id AS bundle_run_id FROM store.results r "
            "JOIN store.bundles b USING (bundle_id) WHERE r.bundle_id = ? AND r.kind = ? "
            f"AND r.started_at = {literal(rid.started_at)} LIMIT 1",
            [rid.bundle_id, rid.kind],
        )
        names = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall()
    if not rows:
        return None
    out = {n: _plain(v) for n, v in zip(names, rows[0], strict=True)}
    for name in ("params", "info"):
        if isinstance(out.get(name), str):
            out[name] = json.loads(out[name])
    return {"id": str(rid), **out}


def _export_sql() -> str:
    plain = ", ".join(c for c in COLUMNS if c not in ("started_at", "finished_at"))
    return (
        "SELECT bundle_id, started_at, finished_at, " + plain + ", country, asn, "
        "to_json(metrics)::VARCHAR AS metrics, params::VARCHAR AS params, "
        f"info::VARCHAR AS info FROM results ORDER BY {ORDER}"
    )


def _export_rows(cat: Catalog, state: ViewState, now: datetime) -> Iterator[dict[str, Any]]:
    with cat.scoped(state.filters(now)) as cur:
        cursor = cur.execute(_export_sql())
        names = [d[0] for d in cursor.description or []]
        while batch := cursor.fetchmany(EXPORT_BATCH):
            for row in batch:
                yield _row(names, row)


def export(cat: Catalog, state: ViewState, fmt: ExportFormat,
           now: datetime | None = None) -> Iterator[str]:  # fmt: skip
    """The filtered records (every page) as CSV (a header row) or a JSON array, in chunks
    of text to stream; memory is bounded by :data:`EXPORT_BATCH` rows."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"export: format must be csv or json, not {fmt!r}")
    rows = _export_rows(cat, state, now or datetime.now(UTC))
    if fmt == "csv":
        yield from _csv(rows)
    else:
        yield from _json(rows)


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for count, row in enumerate(rows, 1):
        writer.writerow(["" if row[c] is None else row[c] for c in EXPORT_COLUMNS])
        if count % EXPORT_BATCH == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _json(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    yield "["
    first = True
    for row in rows:
        for name in ("metrics", "params", "info"):
            text = row[name]
            row[name] = json.loads(text) if isinstance(text, str) else text
        yield ("\n" if first else ",\n") + json.dumps(
            {c: row[c] for c in EXPORT_COLUMNS}, ensure_ascii=False
        )
        first = False
    yield "\n]\n"
