"""Validators built from committed JSON Schema files (jsonschema itself, not pydantic), so a
drift between a model and its published schema shows up as a failure."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema

DOCS = Path(__file__).resolve().parents[2] / "docs"


@cache
def file_validator(path: Path) -> jsonschema.protocols.Validator:
    """A checked validator of the schema in ``path`` (formats checked too)."""
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator
