"""Check documents against the JSON Schemas committed in docs/ (result, manifest, profiling).

The committed files themselves are used (not pydantic), so a drift between the models and the
published schemas shows up as a failure. Each validator raises AssertionError naming the
schema file and the place (``$['metrics']['rtt_ms']``) where the document breaks it.
"""

from __future__ import annotations

import io
import json
import tarfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from waddleperf.results.schema import DOCS_FILES

DOCS = Path(__file__).resolve().parents[2] / "docs"


@cache
def file_validator(path: Path) -> jsonschema.protocols.Validator:
    """A checked validator of the committed schema in ``path`` (formats checked too)."""
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def _validator(name: str) -> jsonschema.protocols.Validator:
    return file_validator(DOCS / DOCS_FILES[name])


def _validate(name: str, doc: Any) -> None:
    err = jsonschema.exceptions.best_match(_validator(name).iter_errors(doc))
    if err is not None and err.validator == "oneOf":
        # Metric | Point: report the branch whose "type" the line has, not "matches neither"
        branches: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in err.context or []:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        meant = [b for b in branches.values() if all(list(e.path) != ["type"] for e in b)]
        if meant:
            err = sorted(meant[0], key=lambda e: list(e.absolute_path))[0]
    if err is not None:
        where = "$" + "".join(f"[{p!r}]" for p in err.absolute_path)
        raise AssertionError(f"{DOCS_FILES[name]}: {where}: {err.message}")


def validate_record(doc: Any) -> None:
    """Raise AssertionError naming where ``doc`` breaks docs/result.schema.json."""
    _validate("result", doc)


def validate_manifest(doc: Any) -> None:
    """Raise AssertionError naming where ``doc`` breaks docs/manifest.schema.json."""
    _validate("manifest", doc)


def validate_profiling_line(doc: Any) -> None:
    """Raise AssertionError naming where ``doc`` breaks docs/profiling.schema.json."""
    _validate("profiling", doc)


def bundle_documents(data: bytes) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """A bundle's parsed ``manifest.json``, ``results.ndjson`` and ``profiling.ndjson`` lines,
    read from its bytes as they are (not through the reader's models)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        files = {}
        for info in tar:
            src = tar.extractfile(info)
            files[info.name] = src.read() if src else b""

    def ndjson_lines(name: str) -> list[Any]:
        return [json.loads(line) for line in files[name].decode().splitlines()]

    manifest: dict[str, Any] = json.loads(files["manifest.json"])
    return manifest, ndjson_lines("results.ndjson"), ndjson_lines("profiling.ndjson")
