"""Check a report summary against the committed docs/report-summary.schema.json."""

from __future__ import annotations

from typing import Any

import jsonschema

from tests.support.schemas import DOCS, file_validator

FILE = DOCS / "report-summary.schema.json"


def validate_summary(doc: Any) -> None:
    """Raise AssertionError naming where ``doc`` breaks the committed schema."""
    err = jsonschema.exceptions.best_match(file_validator(FILE).iter_errors(doc))
    if err is not None:
        where = "$" + "".join(f"[{p!r}]" for p in err.absolute_path)
        raise AssertionError(f"{FILE.name}: {where}: {err.message}")
