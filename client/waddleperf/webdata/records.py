"""Record ids of the History pages: ``BUNDLE:EPOCH_US:KIND`` (a record's bundle, its start in
microseconds since the epoch and its kind), stable across re-ingests of the same bundle."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_ID = re.compile(r"^(\d{1,18}):(\d{1,20}):([a-z][a-z0-9_.]{0,63})$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RecordIdError(ValueError):
    """A record id that is not of the form ``BUNDLE:EPOCH_US:KIND``."""


@dataclass(frozen=True)
class RecordId:
    """Which record: bundle id, start time and kind."""

    bundle_id: int
    started_at: datetime
    kind: str

    def __str__(self) -> str:
        return f"{self.bundle_id}:{epoch_us(self.started_at)}:{self.kind}"


def epoch_us(t: datetime) -> int:
    """Microseconds since the Unix epoch (exact, no float rounding)."""
    return (t - EPOCH) // timedelta(microseconds=1)


def parse_record_id(text: str) -> RecordId:
    """The id of ``text``; RecordIdError naming it when malformed."""
    match = _ID.match(text.strip())
    if match is None:
        raise RecordIdError(f"record: {text[:60]!r} is not a record id (BUNDLE:EPOCH_US:KIND)")
    started = EPOCH + timedelta(microseconds=int(match.group(2)))
    return RecordId(int(match.group(1)), started, match.group(3))
