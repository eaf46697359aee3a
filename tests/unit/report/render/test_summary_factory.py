"""The test summaries are real ones: they meet the committed ``docs/report-summary.schema.json``
(the document ``waddleperf report`` writes), so the renderer is tested on the shape it gets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.report_summary import empty_summary, hostile_summary, make_summary
from tests.support.require import require

SCHEMA = Path(__file__).resolve().parents[4] / "docs" / "report-summary.schema.json"


@pytest.mark.parametrize(
    "summary",
    [make_summary(), make_summary(regressions=True, skipped=0), empty_summary(), hostile_summary()],
    ids=["fleet", "baseline", "empty", "hostile"],
)
def test_factory_summaries_meet_the_schema(summary: dict[str, Any]) -> None:
    require(SCHEMA.is_file(), f"needs {SCHEMA.name} (written by the report command's model)")
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    error = jsonschema.exceptions.best_match(validator.iter_errors(summary))
    assert error is None, f"{list(error.absolute_path)}: {error.message}"


def test_factory_is_deterministic() -> None:
    assert make_summary(seed=3) == make_summary(seed=3)
    assert make_summary(seed=3) != make_summary(seed=4)
