"""Where a cycle's records go: the narrow interface the daemon writes to, and a plain fallback.

The daemon only knows :class:`Sink` (one per agent) and :class:`CycleSink` (one per cycle):
``add_result`` / ``add_profiling`` / ``add_raw`` then ``finish``. The results package's bundle,
spool and store sit behind it (:mod:`waddleperf.autoperf.bundles`); :class:`DirectorySink`
is a plain alternative that tests read back without a tar reader.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from waddleperf.results.model import Result

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
#: The cycle summary (with the agent's labels) rides in each cycle's output as this raw member.
CYCLE_MEMBER = "autoperf-cycle.json"


def safe_name(name: str) -> str:
    """``name`` as one safe file-name component (what a bundle's ``raw/`` member accepts)."""
    cleaned = _SAFE.sub("_", name).lstrip("._-") or "raw"
    return cleaned[:128]


class CycleSink(Protocol):
    """One cycle's output: records, k6 profiling lines, raw tool output, then ``finish``."""

    def add_result(self, result: Result) -> object:
        """Keep one record (probe result, load run or escalation event)."""

    def add_profiling(self, lines: Iterable[str | Mapping[str, Any]]) -> object:
        """Keep k6 NDJSON ``Metric``/``Point`` lines."""

    def add_raw(self, name: str, data: bytes) -> object:
        """Keep a tool's own output under ``name`` (one safe path component)."""

    def finish(self) -> str:
        """Close the cycle's output for good; say where it went, for people."""


class Sink(Protocol):
    """Opens one :class:`CycleSink` per cycle."""

    def begin_cycle(self, agent: str, run_id: str, started_at: datetime) -> CycleSink:
        """Start collecting the cycle ``run_id``."""

    def close(self, drain: bool = True) -> int:
        """Release what is held between cycles; ``drain``: deliver what is pending first.
        Returns how many bundles were lost over the sink's life (0: none)."""


class _DirectoryCycle:
    def __init__(self, final: Path) -> None:
        self.final = final
        self.work = final.with_name(final.name + ".partial")
        (self.work / "raw").mkdir(parents=True, exist_ok=True)
        self._results = (self.work / "results.ndjson").open("a", encoding="utf-8")
        self._profiling = (self.work / "profiling.ndjson").open("a", encoding="utf-8")

    def add_result(self, result: Result) -> bool:
        self._results.write(result.to_json() + "\n")
        self._results.flush()
        return True

    def add_profiling(self, lines: Iterable[str | Mapping[str, Any]]) -> int:
        count = 0
        for line in lines:
            text = line if isinstance(line, str) else json.dumps(dict(line))
            self._profiling.write(text.rstrip("\n") + "\n")
            count += 1
        return count

    def add_raw(self, name: str, data: bytes) -> bool:
        (self.work / "raw" / safe_name(name)).write_bytes(data)
        return True

    def finish(self) -> str:
        self._results.close()
        self._profiling.close()
        # rename is atomic: a reader sees a whole cycle directory or none
        os.replace(self.work, self.final)
        return str(self.final)


class DirectorySink:
    """Each cycle as a directory ``<root>/<start>_<run_id>/`` (results, profiling, raw/)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def begin_cycle(self, agent: str, run_id: str, started_at: datetime) -> _DirectoryCycle:
        """A fresh cycle directory, written under a ``.partial`` name until ``finish``."""
        stamp = started_at.strftime("%Y%m%dT%H%M%S%fZ")
        return _DirectoryCycle(self.root / f"{stamp}_{run_id}")

    def close(self, drain: bool = True) -> int:
        """Nothing is held between cycles, so nothing is lost here."""
        return 0


def read_cycle(directory: Path) -> list[Result]:
    """The records of a cycle written by :class:`DirectorySink` (for tests and tools)."""
    text = (directory / "results.ndjson").read_text(encoding="utf-8")
    return [Result.from_json(line) for line in text.splitlines() if line.strip()]
