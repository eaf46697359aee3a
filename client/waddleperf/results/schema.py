"""JSON Schemas generated from the code and committed in docs/: one per kind of document.

* ``result``: every result record (``results.ndjson`` lines, ``waddleperf probe --json``),
  from :class:`waddleperf.results.model.Result` → ``docs/result.schema.json``;
* ``manifest``: a bundle's ``manifest.json``, from
  :class:`waddleperf.results.manifest.Manifest` → ``docs/manifest.schema.json``;
* ``profiling``: one line of ``profiling.ndjson`` (k6's JSON output: a ``Metric`` declaration
  or a ``Point``), from :class:`ProfilingLine` below → ``docs/profiling.schema.json``.

Regenerate the committed copies with
``python -m waddleperf.results.schema [result|manifest|profiling] > docs/<name>.schema.json``
(``result`` when no name is given).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from waddleperf.results.manifest import BUNDLE_FORMAT, manifest_json_schema
from waddleperf.results.model import SCHEMA_VERSION, Result

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = f"https://waddleperf.example/schema/result-{SCHEMA_VERSION}.json"
MANIFEST_SCHEMA_ID = f"https://waddleperf.example/schema/manifest-{BUNDLE_FORMAT}.json"
PROFILING_SCHEMA_ID = f"https://waddleperf.example/schema/profiling-{BUNDLE_FORMAT}.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every result record validates against."""
    schema = Result.model_json_schema(mode="validation")
    return {"$schema": DRAFT, "$id": SCHEMA_ID, **schema}


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a bundle's ``manifest.json``."""
    schema = manifest_json_schema()
    return {
        **schema,
        "$schema": DRAFT,
        "$id": MANIFEST_SCHEMA_ID,
        "$comment": "Generated from waddleperf.results.manifest.Manifest",
    }


class _K6Data(BaseModel):
    # k6 may add fields to ``data`` in later versions; the ones below are required.
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class MetricData(_K6Data):
    """A metric's declaration (k6 ``Metric`` line ``data``)."""

    name: str = Field(min_length=1, description="The metric's name, the same as 'metric'.")
    type: Literal["counter", "gauge", "rate", "trend"] = Field(
        description="k6 metric type: cumulative counters are 'counter', levels 'gauge'."
    )
    contains: Literal["default", "time", "data"] = "default"
    thresholds: list[str] = Field(default_factory=list)
    submetrics: list[Any] | None = None


class PointData(_K6Data):
    """One value of a metric (k6 ``Point`` line ``data``)."""

    time: str = Field(
        description="RFC 3339 time of the value, e.g. 2026-11-21T23:42:41.123456Z.",
        json_schema_extra={"format": "date-time"},
    )
    value: float = Field(description="The value; a finite number.")
    tags: dict[str, str] = Field(
        description="Labels: 'target' (the sampled source), 'method' and 'run', plus any given."
    )


class MetricLine(BaseModel):
    """``{"type": "Metric", "metric": name, "data": {...}}``: declared once, before its points."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Metric"]
    metric: str = Field(min_length=1)
    data: MetricData


class PointLine(BaseModel):
    """``{"type": "Point", "metric": name, "data": {"time", "value", "tags"}}``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Point"]
    metric: str = Field(min_length=1)
    data: PointData


class ProfilingLine(RootModel[Annotated[MetricLine | PointLine, Field(discriminator="type")]]):
    """One line of ``profiling.ndjson`` (k6 ``--out json`` format)."""

    model_config = ConfigDict(title="WaddlePerf profiling line (k6 JSON output)")


def profiling_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one ``profiling.ndjson`` line."""
    schema = ProfilingLine.model_json_schema(mode="validation")
    return {
        "$schema": DRAFT,
        "$id": PROFILING_SCHEMA_ID,
        "$comment": "Generated from waddleperf.results.schema.ProfilingLine",
        **schema,
    }


#: Each committed schema: its name, how it is generated, and its file in docs/.
SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "result": json_schema,
    "manifest": manifest_schema,
    "profiling": profiling_schema,
}
DOCS_FILES = {name: f"{name}.schema.json" for name in SCHEMAS}


def schema_text(name: str = "result") -> str:
    """Schema ``name`` as the stable text committed in docs/<name>.schema.json."""
    return json.dumps(SCHEMAS[name](), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def json_schema_text() -> str:
    """The result schema as the stable text committed in docs/result.schema.json."""
    return schema_text("result")


def main(argv: list[str]) -> int:
    """Print the schema named by ``argv`` (``result`` by default)."""
    if len(argv) > 1 or (argv and argv[0] not in SCHEMAS):
        print(f"usage: python -m waddleperf.results.schema [{'|'.join(SCHEMAS)}]", file=sys.stderr)
        return 2
    print(schema_text(argv[0] if argv else "result"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
