"""JSON actions of the History page: listing, charts, one record, CSV/JSON export, refresh.

The query string is the page's permalink (:mod:`waddleperf.webdata.view`); a bad one is a 400
naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from py4web import action, request, response

from waddleperf.webdata import history, series, view
from waddleperf.webdata.records import RecordIdError

from .common import runtime
from .guards import api_login, compact, fail, json_csrf, json_text


def _state() -> view.ViewState:
    try:
        return view.decode(request.query_string or "")
    except view.ViewError as exc:
        raise fail(400, str(exc)) from None


@action("api/history")
@action.uses(api_login)
def listing() -> str:
    """One page of the filtered records, newest first."""
    return compact(history.listing(runtime.catalog, _state()))


@action("api/history/charts")
@action.uses(api_login)
def charts() -> str:
    """The latency, loss and throughput series of the view, on one time axis."""
    return json_text(series.charts_json(runtime.catalog, _state()))


@action("api/history/record")
@action.uses(api_login)
def record() -> dict[str, Any]:
    """One record as catalogued (``?record=ID``)."""
    rid = request.query.get("record") or ""
    try:
        found = history.detail(runtime.catalog, rid)
    except RecordIdError as exc:
        raise fail(400, str(exc)) from None
    if found is None:
        raise fail(404, f"record {rid[:80]!r} is not in the catalog")
    return found


def _export(fmt: history.ExportFormat) -> Iterator[bytes]:
    state = _state()
    response.headers["Content-Type"] = ("text/csv; charset=utf-8" if fmt == "csv"
                                        else "application/json")  # fmt: skip
    response.headers["Content-Disposition"] = f'attachment; filename="waddleperf-history.{fmt}"'
    return (chunk.encode() for chunk in history.export(runtime.catalog, state, fmt))


@action("api/history/export.csv")
@action.uses(api_login)
def export_csv() -> Iterator[bytes]:
    """Every record of the view (paging ignored) as CSV, streamed."""
    return _export("csv")


@action("api/history/export.json")
@action.uses(api_login)
def export_json() -> Iterator[bytes]:
    """Every record of the view as a JSON array, streamed."""
    return _export("json")


@action("api/refresh", method=["POST"])
@action.uses(api_login, json_csrf)
def refresh() -> dict[str, Any]:
    """Read the sources' new bundles now."""
    try:
        return runtime.refresh()
    except Exception as exc:  # the source's own sentence (gone, refused)
        raise fail(503, f"refresh failed: {exc}") from None
