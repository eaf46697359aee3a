"""``--sql``: a query over the report's views, printed as a table, CSV or JSON.

JSON is a list of row objects (times as RFC 3339 UTC strings, maps and lists as JSON); CSV
has a header row. Only one statement, and only a query: the catalog is not for editing here.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from waddleperf.report.scope import iso

if TYPE_CHECKING:
    import duckdb

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")


class QueryError(ValueError):
    """The query is not one read-only statement, or DuckDB refused it; one line."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of ``sql`` (one read-only statement)."""
    import duckdb

    text = sql.strip().rstrip(";").strip()
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as exc:
        raise QueryError(f"--sql: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryError("--sql takes exactly one statement")
    kind = statements[0].type
    if kind not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
        raise QueryError(f"--sql takes one query (SELECT, WITH, FROM, DESCRIBE …), not {kind.name}")
    try:
        cursor = con.execute(text)
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        raise QueryError(f"--sql: {str(exc).splitlines()[0]}") from None
    names = [d[0] for d in (cursor.description or [])]
    return names, rows


def format_rows(names: list[str], rows: list[tuple[Any, ...]], fmt: Format) -> str:
    """The rows as text in ``fmt``."""
    if fmt == "json":
        data = [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in rows]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
        return out.getvalue()
    return _table(names, rows)


def _cell(value: Any) -> str:
    plain = _plain(value)
    if isinstance(plain, dict | list):
        return json.dumps(plain, ensure_ascii=False)
    return str(plain)


def _table(names: list[str], rows: list[tuple[Any, ...]]) -> str:
    cells = [["NULL" if v is None else _cell(v) for v in row] for row in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    line = "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return (
        "\n".join([line, rule, *body, f"({len(rows)} row{'s' if len(rows) != 1 else ''})"]) + "\n"
    )
