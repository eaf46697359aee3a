"""A small JSON Schema checker for the keywords docs/result.schema.json uses.

jsonschema is not installed in this environment; this checks records against the committed
document itself (not through pydantic), so a drift between the two shows up. It raises
AssertionError on unknown keywords rather than silently passing them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "result.schema.json"
_ANNOTATIONS = {"$comment", "$id", "$schema", "$defs", "title", "description", "default"}
_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> None:
    """Raise AssertionError naming the path when ``value`` does not fit ``schema``."""
    for key, rule in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "$ref":
            check(value, root["$defs"][rule.rsplit("/", 1)[-1]], root, path)
        elif key == "type":
            assert _type_ok(value, rule), f"{path}: {value!r} is not {rule}"
        elif key == "anyOf":
            errors = []
            for option in rule:
                try:
                    check(value, option, root, path)
                    break
                except AssertionError as exc:
                    errors.append(str(exc))
            else:
                raise AssertionError(f"{path}: matches none of anyOf: {errors}")
        elif key == "enum":
            assert value in rule, f"{path}: {value!r} not in {rule}"
        elif key == "const":
            assert value == rule, f"{path}: {value!r} != {rule!r}"
        # Like JSON Schema, each of these constrains only values of its own type.
        elif key == "pattern" and isinstance(value, str):
            assert re.search(rule, value), f"{path}: {value!r} !~ {rule}"
        elif key == "format" and isinstance(value, str):
            assert rule == "date-time", f"unsupported format {rule}"
            dt.datetime.fromisoformat(value)
        elif key == "minLength" and isinstance(value, str):
            assert len(value) >= rule, f"{path}: shorter than {rule}"
        elif key == "minimum" and _type_ok(value, "number"):
            assert value >= rule, f"{path}: below {rule}"
        elif key == "maxItems" and isinstance(value, list):
            assert len(value) <= rule, f"{path}: more than {rule} items"
        elif key == "items" and isinstance(value, list):
            for i, item in enumerate(value):
                check(item, rule, root, f"{path}[{i}]")
        elif key == "required" and isinstance(value, dict):
            missing = [name for name in rule if name not in value]
            assert not missing, f"{path}: missing {missing}"
        elif key in ("pattern", "format", "minLength", "minimum", "maxItems", "items", "required"):
            continue
        elif key in ("properties", "patternProperties", "additionalProperties"):
            continue  # handled together below
        else:
            raise AssertionError(f"schema keyword {key!r} not supported by this checker")
    if isinstance(value, dict) and {
        "properties",
        "patternProperties",
        "additionalProperties",
    } & set(schema):
        _check_object(value, schema, root, path)


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str
) -> None:
    props = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        where = f"{path}.{name}"
        if name in props:
            check(item, props[name], root, where)
            continue
        matched = [p for p in patterns if re.search(p, name)]
        for p in matched:
            check(item, patterns[p], root, where)
        if matched:
            continue
        assert extra is not False, f"{path}: property {name!r} not allowed"
        if isinstance(extra, dict):
            check(item, extra, root, where)


def validate_record(record: dict[str, Any]) -> None:
    """Check one record against the committed docs/result.schema.json."""
    schema = json.loads(SCHEMA_PATH.read_text())
    check(record, schema, schema)
