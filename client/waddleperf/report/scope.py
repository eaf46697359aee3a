"""What a report looks at: its filters, and views over the catalog limited to them.

The catalog holds every bundle ever ingested; a report sees only its sources' bundles (temp
table ``scope``) that pass its filters, through temp views named like the tables —
``bundles``, ``results``, ``events``, ``load``, ``profiling`` — which ``--sql``, the summary
and the export all read. A baseline gets the same views with a ``baseline_`` prefix.

Filters: ``since`` ≤ time < ``until`` (a record's ``started_at``, an event's or a profiling
point's ``t``, a bundle's ``started_at``); agents, servers, probe kinds, countries and ASNs as
sets (empty: all). Agent, country and ASN select bundles; server and kind select records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from waddleperf.report.catalog import SCHEMA

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Filters:
    """The report's filters (empty tuples: no restriction)."""

    since: datetime | None = None
    until: datetime | None = None
    agents: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    asns: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The filters given, by flag name, JSON-ready (for ``summary.json``)."""
        out: dict[str, Any] = {}
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                out[name] = iso(value)
        for name, flag in (("agents", "agent"), ("servers", "server"), ("kinds", "kind"),
                           ("countries", "country"), ("asns", "asn")):  # fmt: skip
            values = getattr(self, name)
            if values:
                out[flag] = list(values)
        return out


def iso(value: datetime) -> str:
    """RFC 3339 UTC with ``Z`` (microseconds), like result records."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str, flag: str = "time") -> datetime:
    """``2026-11-21``, ``2026-11-21T10:00`` or any ISO 8601 time; no offset means UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--{flag}: {text!r} is not an ISO 8601 date or time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_kind(text: str) -> str:
    """``icmp`` → ``probe.icmp``; a dotted kind stays as given."""
    text = text.strip()
    return text if "." in text else f"probe.{text}"


def literal(value: str | int | float | datetime | date) -> str:
    """A SQL literal of ``value`` (strings quoted with quotes doubled, times as TIMESTAMPTZ)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not filter values")
    if isinstance(value, datetime):
        return f"TIMESTAMPTZ '{iso(value)}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a filter number must be finite")
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _within(column: str, values: Sequence[str | int]) -> str | None:
    if not values:
        return None
    return f"{column} IN ({', '.join(literal(v) for v in values)})"


def _times(column: str, filters: Filters) -> list[str]:
    out = []
    if filters.since is not None:
        out.append(f"{column} >= {literal(filters.since)}")
    if filters.until is not None:
        out.append(f"{column} < {literal(filters.until)}")
    return out


def conditions(filters: Filters, table: str) -> list[str]:
    """The WHERE conditions of view ``table`` (columns unqualified) under ``filters``."""
    parts: list[str | None] = []
    if table == "bundles":
        parts += [_within("agent", filters.agents), _within("country", filters.countries),
                  _within("asn", filters.asns), *_times("started_at", filters)]  # fmt: skip
    elif table == "results":
        parts += [_within("server", filters.servers), _within("kind", filters.kinds),
                  *_times("started_at", filters)]  # fmt: skip
    elif table in ("events", "load"):
        parts += [_within("server", filters.servers), *_times("t", filters)]
    elif table == "profiling":
        parts += _times("t", filters)
    else:
        raise ValueError(f"no view {table!r}")
    return [p for p in parts if p]


def _where(parts: list[str]) -> str:
    return " WHERE " + " AND ".join(parts) if parts else ""


def create_views(con: duckdb.DuckDBPyConnection, filters: Filters, scope: str = "scope",
                 prefix: str = "") -> None:  # fmt: skip
    """Temp views ``{prefix}bundles`` … over the catalog, limited to ``scope`` and filters."""
    s, p = SCHEMA, prefix
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {p}bundles AS SELECT * FROM {s}.bundles "
        f"WHERE bundle_id IN (SELECT bundle_id FROM {scope})"
        + "".join(f" AND {c}" for c in conditions(filters, "bundles"))
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {p}results AS SELECT r.*, b.country, b.asn, b.org "
        f"FROM (SELECT * FROM {s}.results{_where(conditions(filters, 'results'))}) r "
        f"JOIN (SELECT bundle_id, country, asn, org FROM {p}bundles) b USING (bundle_id)"
    )
    for table in ("events", "load", "profiling"):
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {p}{table} AS SELECT * FROM {s}.{table} "
            f"WHERE bundle_id IN (SELECT bundle_id FROM {p}bundles)"
            + "".join(f" AND {c}" for c in conditions(filters, table))
        )
