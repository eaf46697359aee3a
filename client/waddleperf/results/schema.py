"""JSON Schema of the result record, generated from the model (docs/result.schema.json).

Regenerate the committed copy with
``python -m waddleperf.results.schema > docs/result.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

from waddleperf.results.model import SCHEMA_VERSION, Result

SCHEMA_ID = f"https://waddleperf.example/schema/result-{SCHEMA_VERSION}.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every result record validates against."""
    schema = Result.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def json_schema_text() -> str:
    """The schema as the stable text committed in docs/result.schema.json."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(json_schema_text(), end="")
