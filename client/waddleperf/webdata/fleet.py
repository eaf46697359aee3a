"""Fleet / AutoPerf: every agent in the catalog, its last bundle, its current tier per server,
the escalation timeline with reasons and its recent bundles (to download).

"Current tier" of an agent × server is the highest tier among that server's records in the
agent's latest bundle that probed it (tier 1 only: back to normal); the timeline lists the
tier changes AutoPerf recorded (``store.events``), newest first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from waddleperf.report.query import _plain
from waddleperf.webdata.store import Catalog

RECENT_BUNDLES = 20
TIMELINE = 200
_BUNDLE = ("bundle_id", "location", "source", "run_id", "started_at", "finished_at", "status",
           "tiers", "max_tier", "size_bytes", "results_count", "country", "asn")  # fmt: skip


def _dicts(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [{n: _plain(v) for n, v in zip(names, r, strict=True)} for r in rows]


def agents(cat: Catalog) -> list[dict[str, Any]]:
    """Every agent: bundle count, its last bundle, current tier per server."""

    def compute() -> list[dict[str, Any]]:
        cols = ", ".join(f"b.{c}" for c in _BUNDLE)
        with cat.cursor() as cur:
            last = cur.execute(f"""SELECT b.agent, n, {cols} FROM store.bundles b JOIN
                (SELECT agent, count(*) AS n, max(started_at) AS t FROM store.bundles
                 GROUP BY agent) m ON b.agent = m.agent AND b.started_at = m.t
                ORDER BY b.agent, b.bundle_id DESC""").fetchall()
            tiers = cur.execute("""SELECT agent, server, max(tier), max(started_at) FROM
                (SELECT r.agent, r.server, r.tier, r.started_at, r.bundle_id,
                        max(r.bundle_id) OVER (PARTITION BY r.agent, r.server) AS latest
                 FROM store.results r WHERE r.kind LIKE 'probe.%')
                WHERE bundle_id = latest GROUP BY ALL ORDER BY ALL""").fetchall()
        per: dict[str, list[dict[str, Any]]] = {}
        for agent, server, tier, seen in tiers:
            per.setdefault(agent, []).append(
                {"server": server, "tier": tier, "seen_at": _plain(seen)}
            )
        out, done = [], set()
        for agent, n, *bundle in last:
            if agent in done:
                continue
            done.add(agent)
            out.append({"agent": agent, "bundles": int(n),
                        "last_bundle": dict(zip(_BUNDLE, map(_plain, bundle), strict=True)),
                        "servers": per.get(agent, [])})  # fmt: skip
        return out

    return cat.cached(("fleet-agents",), compute)


def timeline(cat: Catalog, agent: str | None = None, limit: int = TIMELINE) -> list[dict[str, Any]]:
    """Tier changes with their reasons, newest first (one agent's, or every agent's)."""
    names = ("agent", "server", "t", "event", "from_tier", "to_tier", "reason", "metric",
             "value", "threshold", "bundle_id")  # fmt: skip
    where = "WHERE from_tier IS NOT NULL AND to_tier IS NOT NULL"
    args: list[Any] = []
    if agent is not None:
        where += " AND agent = ?"
        args.append(agent)
    with cat.cursor() as cur:
        rows = cur.execute(
            f"SELECT {', '.join(names)} FROM store.events {where} ORDER BY t DESC LIMIT ?",
            [*args, max(1, min(limit, 10_000))],
        ).fetchall()
    return _dicts(names, rows)


def recent_bundles(cat: Catalog, agent: str, limit: int = RECENT_BUNDLES) -> list[dict[str, Any]]:
    """The agent's latest bundles, newest first, with where each lives."""
    with cat.cursor() as cur:
        rows = cur.execute(
            f"SELECT {', '.join(_BUNDLE)} FROM store.bundles WHERE agent = ? "
            "ORDER BY started_at DESC, bundle_id DESC LIMIT ?",
            [agent, max(1, min(limit, 1000))],
        ).fetchall()
    return _dicts(_BUNDLE, rows)


def bundle_file(cat: Catalog, bundle_id: int) -> Path | None:
    """The local file of bundle ``bundle_id`` to download (None: unknown, not local or gone).

    Only locations the catalog recorded are returned, never a path built from the request."""
    with cat.cursor() as cur:
        rows = cur.execute(
            "SELECT location FROM store.bundles WHERE bundle_id = ?", [bundle_id]
        ).fetchall()
    if not rows or "://" in rows[0][0]:
        return None
    path = Path(rows[0][0])
    return path if path.is_file() else None
