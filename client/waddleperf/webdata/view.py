"""A History view's state and its permalink: view state <-> query string, validated.

Pure. A permalink holds only what differs from the defaults, keys sorted, lists repeated
(``agent=a&agent=b``; filters are sets, decoded sorted), so equal views have equal links.
Bad values raise :class:`ViewError` naming the parameter:
``permalink: since: 'x' is not an ISO 8601 date or time``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import parse_qs, urlencode

from waddleperf.report.scope import Filters, iso, parse_kind, parse_time

Page = Literal["list", "charts", "detail"]
PAGES: tuple[Page, ...] = ("list", "charts", "detail")
#: Relative time ranges a view may name, ending now (or at ``until``).
RANGES: Mapping[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 50
_LISTS = ("agent", "server", "kind")
_KEYS = ("view", "agent", "server", "kind", "range", "since", "until", "page", "per_page",
         "record")  # fmt: skip


class ViewError(ValueError):
    """A view state or permalink that cannot be used; one line naming the parameter."""


@dataclass(frozen=True)
class ViewState:
    """What a History page shows: filters, one time range for every chart, paging."""

    view: Page = "list"
    agents: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    range: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    record: str | None = None

    def window(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The time range ``since`` … ``until``. A named range ends at ``until``, or at ``now``
        rounded up to the minute: the same view asked again within the minute is the same
        query, answered from the cache."""
        if self.range is not None:
            end = self.until or _next_minute(now)
            return end - RANGES[self.range], end
        return self.since, self.until

    def filters(self, now: datetime) -> Filters:
        """The report's filters of this view."""
        since, until = self.window(now)
        return Filters(since=since, until=until, agents=self.agents, servers=self.servers,
                       kinds=self.kinds)  # fmt: skip


def _next_minute(t: datetime) -> datetime:
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + timedelta(minutes=1)


def _fail(key: str, why: str) -> ViewError:
    return ViewError(f"permalink: {key}: {why}")


def _int(key: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _fail(key, f"{text!r} is not a whole number") from None
    if not low <= value <= high:
        raise _fail(key, f"{value} is outside {low}..{high}")
    return value


def _one(key: str, values: Sequence[str]) -> str:
    if len(values) != 1:
        raise _fail(key, "given more than once")
    return values[0]


def _time(key: str, text: str) -> datetime:
    try:
        return parse_time(text, key)
    except ValueError:
        raise _fail(key, f"{text!r} is not an ISO 8601 date or time") from None


def _name(key: str, text: str) -> str:
    text = text.strip()
    if not text or len(text) > 200 or any(ord(c) < 32 for c in text):
        raise _fail(key, f"{text[:40]!r} is not a name")
    return text


def from_params(params: Mapping[str, Sequence[str]]) -> ViewState:
    """The view of decoded query parameters (each key to its list of values)."""
    unknown = sorted(set(params) - set(_KEYS))
    if unknown:
        raise ViewError(f"permalink: unknown parameter {unknown[0]!r}; known: {', '.join(_KEYS)}")
    one = {k: _one(k, v) for k, v in params.items() if k not in _LISTS and v}
    view = one.get("view", "list")
    if view not in PAGES:
        raise _fail("view", f"{view!r} is not one of {', '.join(PAGES)}")
    rng = one.get("range")
    if rng is not None and rng not in RANGES:
        raise _fail("range", f"{rng!r} is not one of {', '.join(RANGES)}")
    since = _time("since", one["since"]) if "since" in one else None
    until = _time("until", one["until"]) if "until" in one else None
    if rng is not None and since is not None:
        raise _fail("range", "give range or since, not both")
    if since is not None and until is not None and since >= until:
        raise _fail("since", "must be before until")
    record = one.get("record")
    if view == "detail" and not record:
        raise _fail("record", "the detail view needs a record id")
    return ViewState(
        view=view,
        agents=tuple(sorted({_name("agent", a) for a in params.get("agent", ())})),
        servers=tuple(sorted({_name("server", s) for s in params.get("server", ())})),
        kinds=tuple(sorted({parse_kind(_name("kind", k)) for k in params.get("kind", ())})),
        range=rng,
        since=since,
        until=until,
        page=_int("page", one["page"], 1, 1_000_000) if "page" in one else 1,
        per_page=_int("per_page", one["per_page"], 1, MAX_PER_PAGE)
        if "per_page" in one
        else DEFAULT_PER_PAGE,
        record=_name("record", record) if record else None,
    )


def decode(query: str) -> ViewState:
    """The view of a query string (``agent=a&range=1d``; a leading ``?`` is allowed)."""
    try:
        params = parse_qs(query.lstrip("?"), keep_blank_values=False, strict_parsing=False,
                          max_num_fields=200)  # fmt: skip
    except ValueError as exc:
        raise ViewError(f"permalink: {exc}") from None
    return from_params(params)


def encode(state: ViewState) -> str:
    """The permalink query string of ``state`` (defaults left out, keys sorted)."""
    default = ViewState()
    pairs: list[tuple[str, str]] = []
    for f in fields(state):
        value = getattr(state, f.name)
        if value == getattr(default, f.name):
            continue
        key = f.name.removesuffix("s") if f.name in ("agents", "servers", "kinds") else f.name
        if isinstance(value, tuple):
            pairs += [(key, v.removeprefix("probe.") if key == "kind" else v) for v in value]
        elif isinstance(value, datetime):
            pairs.append((key, iso(value)))
        else:
            pairs.append((key, str(value)))
    return urlencode(sorted(pairs))
