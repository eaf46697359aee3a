from __future__ import annotations

from typing import Any

from waddleperf.deploy.tally import HostTally, all_healthy, tally


def _task(kind: str, host: str, **data: Any) -> dict[str, Any]:
    return {"event": kind, "event_data": {"host": host, **data}}


def test_the_stats_event_is_the_authority() -> None:
    events: list[dict[str, Any]] = [
        _task("runner_on_ok", "a", res={"changed": True}),
        {"event": "playbook_on_stats", "event_data": {
            "ok": {"a": 7, "b": 3}, "changed": {"a": 2}, "failures": {"b": 1},
            "dark": {"c": 1}, "skipped": {"a": 4}}},
    ]  # fmt: skip
    assert tally(events) == [
        HostTally("a", ok=7, changed=2, skipped=4),
        HostTally("b", ok=3, failed=1),
        HostTally("c", unreachable=1),
    ]


def test_two_runs_stats_add_up() -> None:
    stats = {"event": "playbook_on_stats", "event_data": {"ok": {"a": 2}, "changed": {"a": 1}}}
    assert tally([stats, stats]) == [HostTally("a", ok=4, changed=2)]


def test_without_stats_the_task_events_are_counted() -> None:
    events: list[dict[str, Any]] = [
        _task("runner_on_ok", "a", res={"changed": True}),
        _task("runner_on_ok", "a", res={"changed": False}),
        _task("runner_on_skipped", "a"),
        _task("runner_on_failed", "a", ignore_errors=True),
        _task("runner_on_failed", "b"),
        _task("runner_on_unreachable", "c"),
        {"event": "verbose", "event_data": {}},
    ]
    assert tally(events) == [
        HostTally("a", ok=2, changed=1, skipped=1),
        HostTally("b", failed=1),
        HostTally("c", unreachable=1),
    ]


def test_health_is_no_failure_and_no_unreachable_host() -> None:
    assert all_healthy([HostTally("a", ok=3, changed=3)])
    assert not all_healthy([HostTally("a", ok=3), HostTally("b", failed=1)])
    assert not all_healthy([HostTally("c", unreachable=1)])
    want = {"host": "a", "ok": 1, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0}
    assert HostTally("a", ok=1).to_dict() == want
