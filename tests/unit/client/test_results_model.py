"""The result model: validation rules, JSON round trip, and the committed JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.support.schemas import validate_record
from waddleperf.results import SAMPLES_CAP, Result, Status
from waddleperf.results.model import cap_samples, metric_unit
from waddleperf.results.schema import json_schema, json_schema_text

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 11, 21, 23, 0, 0, 123456, tzinfo=UTC)


def make(**kw: Any) -> Result:
    base: dict[str, Any] = dict(
        kind="probe.icmp",
        target="127.0.0.1",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        status=Status.OK,
        metrics={"rtt_avg_ms": 0.05, "loss_pct": 0.0, "sent_count": 3},
    )
    base.update(kw)
    return Result.model_validate(base)


def test_round_trip_and_z_timestamps():
    r = make(params={"count": 3}, samples=[{"seq": 0, "rtt_ms": 0.05}])
    text = r.to_json()
    data = json.loads(text)
    assert data["started_at"] == "2026-11-21T23:00:00.123456Z"
    assert data["schema_version"] == "1.0"
    assert set(data) == set(Result.model_fields)
    assert Result.from_json(text) == r
    assert r.duration_s == pytest.approx(1.0)


def test_other_offsets_are_normalised_to_utc():
    plus2 = timezone(timedelta(hours=2))
    r = make(started_at=T0.astimezone(plus2), finished_at=T0.astimezone(plus2))
    assert r.to_dict()["started_at"].endswith("Z")
    with pytest.raises(ValidationError):
        make(started_at=datetime(2026, 1, 1))  # naive: whose clock?


@pytest.mark.parametrize(
    "kw",
    [
        {"metrics": {"rtt": 1.0}},  # no unit suffix
        {"metrics": {"rtt_avg_ms": float("nan")}},
        {"metrics": {"ok_count": True}},
        {"metrics": {"rtt_avg_ms": None}},  # null without a reason
        {"status": Status.FAILED},  # failed without a reason
        {"error": "   ", "status": Status.DEGRADED},
        {"kind": "icmp"},
        {"finished_at": T0 - timedelta(seconds=1)},
        {"tier": -1},
        {"surprise": 1},
        {"samples": [{"seq": 0}] * (SAMPLES_CAP + 1)},
    ],
)
def test_rejects(kw):
    with pytest.raises(ValidationError):
        make(**kw)


def test_null_metric_with_reason_is_fine():
    r = make(metrics={"rtt_avg_ms": None}, status=Status.FAILED, error="No reply arrived.")
    assert r.metrics["rtt_avg_ms"] is None


def test_cap_samples_counts_dropped():
    kept, dropped = cap_samples([{"i": i} for i in range(12)], cap=10)
    assert len(kept) == 10 and dropped == 2
    assert cap_samples([{"i": 1}], cap=10) == ([{"i": 1}], 0)


def test_metric_unit():
    assert metric_unit("rtt_avg_ms") == "ms"
    assert metric_unit("loss_pct") == "%"
    assert metric_unit("throughput_mbps") == "Mbit/s"


def test_committed_schema_matches_model():
    committed = (ROOT / "docs" / "result.schema.json").read_text()
    assert committed == json_schema_text(), "regenerate: python -m waddleperf.results.schema"


def test_schema_describes_every_field():
    schema = json_schema()
    assert set(schema["properties"]) == set(Result.model_fields)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["metrics"]["additionalProperties"] is False


def test_records_validate_against_committed_schema():
    r = make(
        params={"count": 3, "nested": {"a": [1, "b"]}},
        samples=[{"seq": 0, "rtt_ms": 0.05, "dup": False, "note": None}],
        info={"address": "127.0.0.1"},
        raw={"iperf": {"end": 1}},
    )
    validate_record(r.to_dict())


@pytest.mark.parametrize(
    "patch",
    [
        {"metrics": {"rtt": 1.0}},
        {"status": "fine"},
        {"extra": 1},
        {"tier": -1},
        {"schema_version": "2.0"},
        {"samples": [{"nested": {"no": 1}}]},
    ],
)
def test_committed_schema_rejects(patch):
    data = make().to_dict()
    data.update(patch)
    with pytest.raises(AssertionError):
        validate_record(data)


def test_committed_schema_wants_utc_z():
    data = make().to_dict()
    data["started_at"] = "2026-11-21T23:00:00+02:00"
    with pytest.raises(AssertionError):
        validate_record(data)
