"""The History view's permalink codec and record ids: pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from waddleperf.webdata.records import RecordId, RecordIdError, parse_record_id
from waddleperf.webdata.view import ViewError, ViewState, decode, encode

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_round_trip_keeps_every_field() -> None:
    state = ViewState(view="charts", agents=("a-1", "b 2"), servers=("s",),
                      kinds=("probe.icmp", "probe.udp"), since=NOW - timedelta(days=1),
                      until=NOW, page=3, per_page=100)  # fmt: skip
    link = encode(state)
    assert "kind=udp" in link and "agent=b+2" in link
    assert decode(link) == state
    assert decode("?" + link) == state


def test_defaults_give_an_empty_link_and_equal_views_equal_links() -> None:
    assert encode(ViewState()) == ""
    assert decode("") == ViewState()
    assert encode(decode("range=1d&agent=x")) == encode(decode("agent=x&range=1d"))


def test_named_range_ends_now_or_at_until() -> None:
    state = decode("range=7d")
    assert state.window(NOW) == (NOW - timedelta(days=7), NOW)
    later = NOW + timedelta(seconds=1.5)
    assert state.window(later) == state.window(NOW + timedelta(seconds=59))
    assert state.window(later)[1] == NOW + timedelta(minutes=1)
    f = decode("range=1h&until=2026-11-01T10:00").filters(NOW)
    assert f.since == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert f.until == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "permalink: since: 'yesterday' is not an ISO 8601 date or time"),
        ("page=0", "permalink: page: 0 is outside 1..1000000"),
        ("page=x", "permalink: page: 'x' is not a whole number"),
        ("per_page=501", "permalink: per_page: 501 is outside 1..500"),
        ("range=2y", "permalink: range: '2y' is not one of 1h, 6h, 1d, 7d, 30d"),
        ("view=map", "permalink: view: 'map' is not one of list, charts, detail"),
        ("color=red", "permalink: unknown parameter 'color'"),
        ("range=1d&since=2026-11-01", "permalink: range: give range or since, not both"),
        ("since=2026-11-02&until=2026-11-01", "permalink: since: must be before until"),
        ("view=detail", "permalink: record: the detail view needs a record id"),
        ("page=1&page=2", "permalink: page: given more than once"),
    ],
)
def test_bad_values_name_the_parameter(query: str, message: str) -> None:
    with pytest.raises(ViewError) as err:
        decode(query)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_record_ids_round_trip_to_the_microsecond() -> None:
    rid = RecordId(42, datetime(2026, 11, 1, 0, 0, 1, 123456, tzinfo=UTC), "probe.udp")
    assert str(rid) == "42:1793491201123456:probe.udp"
    assert parse_record_id(str(rid)) == rid
    with pytest.raises(RecordIdError, match="is not a record id"):
        parse_record_id("42:abc:probe.udp")
