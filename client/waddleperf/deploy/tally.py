"""ansible-runner's events → one tally per host (ok, changed, failed, unreachable, skipped).

Pure: event dicts in, tallies out. A run's ``playbook_on_stats`` event is the authority (it is
what ansible-playbook's recap prints); a run cut short before it has only its task events,
which are counted instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: playbook_on_stats keys → tally fields.
_STATS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
          "skipped": "skipped"}  # fmt: skip
#: Task events → the field they count (``runner_on_ok`` with changed also counts changed).
_TASK = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_unreachable":
         "unreachable", "runner_on_skipped": "skipped"}  # fmt: skip


@dataclass
class HostTally:
    """Task results of one host over a run (counts of tasks)."""

    host: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0

    @property
    def healthy(self) -> bool:
        """No task failed and the host was reachable."""
        return self.failed == 0 and self.unreachable == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tally(events: Iterable[Mapping[str, Any]]) -> list[HostTally]:
    """Per-host tallies of a run's events, sorted by host name."""
    from_stats: dict[str, HostTally] = {}
    from_tasks: dict[str, HostTally] = {}
    for event in events:
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind == "playbook_on_stats":
            for key, field in _STATS.items():
                for host, count in (data.get(key) or {}).items():
                    entry = from_stats.setdefault(host, HostTally(host))
                    setattr(entry, field, getattr(entry, field) + int(count))
        elif kind in _TASK and data.get("host"):
            entry = from_tasks.setdefault(str(data["host"]), HostTally(str(data["host"])))
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                continue
            field = _TASK[str(kind)]
            setattr(entry, field, getattr(entry, field) + 1)
            if kind == "runner_on_ok" and (data.get("res") or {}).get("changed"):
                entry.changed += 1
    chosen = from_stats or from_tasks
    return [chosen[h] for h in sorted(chosen)]


def all_healthy(tallies: Iterable[HostTally]) -> bool:
    """Whether every host was reached and had no failed task."""
    return all(t.healthy for t in tallies)
