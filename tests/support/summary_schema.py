"""Check a report summary against the committed docs/report-summary.schema.json (jsonschema,
not the pydantic model, so a drift between the two fails)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

FILE = Path(__file__).resolve().parents[2] / "docs" / "report-summary.schema.json"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(FILE.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def validate_summary(doc: Any) -> None:
    """Raise AssertionError naming where ``doc`` breaks the committed schema."""
    err = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if err is not None:
        where = "$" + "".join(f"[{p!r}]" for p in err.absolute_path)
        raise AssertionError(f"{FILE.name}: {where}: {err.message}")
