"""The bundle manifest (``manifest.json``): what a bundle holds and how to check it.

The manifest is the first member of every bundle. It names the run, the agent, the tiers run,
the time span, the software version and geo tags, and lists every other member with its size,
SHA-256 and (for NDJSON members) record count, in archive order. ``bundle_format`` is checked
before anything else so that a reader meets a newer format with a clear error rather than a
list of unexpected fields.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer, field_validator

from waddleperf.results.model import Status, format_time

BUNDLE_FORMAT: Literal[1] = 1
#: Formats this reader understands.
KNOWN_FORMATS: frozenset[int] = frozenset({BUNDLE_FORMAT})

MANIFEST = "manifest.json"
RESULTS = "results.ndjson"
PROFILING = "profiling.ndjson"
RAW_DIR = "raw/"
#: Raw output names: one path component, no hidden files, so members can never escape raw/.
RAW_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_SHA256 = r"^[0-9a-f]{64}$"
_RAW_MEMBER = re.compile("^" + re.escape(RAW_DIR) + RAW_NAME_PATTERN[1:])

GeoValue = str | int | float | None
BundleStatus = Literal["ok", "degraded", "failed", "empty"]
#: A record cut short by Ctrl-C counts as degraded: real figures, but not all of them.
_STATUS_RANK = {
    Status.OK.value: 0,
    Status.DEGRADED.value: 1,
    Status.INTERRUPTED.value: 1,
    Status.FAILED.value: 2,
}
_RANK_STATUS: dict[int, BundleStatus] = {0: "ok", 1: "degraded", 2: "failed"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(_Strict):
    """One archive member after the manifest."""

    name: str = Field(min_length=1)
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=_SHA256, description="Hex SHA-256 of the member's bytes.")
    records: int | None = Field(default=None, ge=0, description="Lines, for NDJSON members.")


class Rejected(_Strict):
    """Something the writer left out because of a size cap (noted, never silently dropped)."""

    name: str
    size_bytes: int = Field(ge=0)
    records: int = Field(default=1, ge=1)
    reason: str


class Manifest(_Strict):
    """Contents of ``manifest.json`` (bundle format 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="WaddlePerf bundle manifest")

    bundle_format: Literal[1] = BUNDLE_FORMAT
    agent: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    tiers: list[int] = Field(default_factory=list, description="AutoPerf tiers run, sorted.")
    started_at: AwareDatetime
    finished_at: AwareDatetime
    software: str = "waddleperf"
    software_version: str = Field(min_length=1)
    geo: dict[str, GeoValue] = Field(default_factory=dict)
    status: BundleStatus = Field(description="Worst result status; empty when no results.")
    members: list[Member]
    rejected: list[Rejected] = Field(default_factory=list)

    @field_validator("members")
    @classmethod
    def _layout(cls, members: list[Member]) -> list[Member]:
        names = [m.name for m in members]
        if names[:2] != [RESULTS, PROFILING]:
            raise ValueError(f"the first members must be {RESULTS} and {PROFILING}")
        raw = names[2:]
        bad = [n for n in raw if not _RAW_MEMBER.match(n)]
        if bad:
            raise ValueError(f"member {bad[0]!r} is not raw/<name>")
        if raw != sorted(set(raw)):
            raise ValueError("raw members must be unique and sorted by name")
        return members

    @field_validator("started_at", "finished_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_serializer("started_at", "finished_at")
    def _serialise_time(self, value: datetime) -> str:
        return format_time(value)

    def to_bytes(self) -> bytes:
        """The manifest as stable, human-readable JSON (sorted keys, trailing newline)."""
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()

    def member(self, name: str) -> Member | None:
        """The member entry called ``name``, if listed."""
        return next((m for m in self.members if m.name == name), None)

    def count(self, name: str) -> int:
        """Records in NDJSON member ``name`` (0 when absent)."""
        member = self.member(name)
        return (member.records or 0) if member else 0


def worst_status(statuses: set[str]) -> BundleStatus:
    """The bundle's summary status: the worst of its results', ``empty`` for none."""
    if not statuses:
        return "empty"
    return _RANK_STATUS[max(_STATUS_RANK.get(s, 2) for s in statuses)]


def manifest_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of ``manifest.json``."""
    schema = Manifest.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
