"""Validate records against the committed docs/result.schema.json with jsonschema.

The committed document itself is used (not pydantic), so a drift between the model and the
published schema shows up as a failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema

from tests.support.schema_files import file_validator

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "result.schema.json"


def _validator() -> jsonschema.protocols.Validator:
    return file_validator(SCHEMA_PATH)


def validate_record(record: dict[str, Any]) -> None:
    """Raise AssertionError naming the first place where ``record`` breaks the schema."""
    errors = sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "$" + "".join(f"[{p!r}]" for p in err.absolute_path)
        raise AssertionError(f"{where}: {err.message}")
