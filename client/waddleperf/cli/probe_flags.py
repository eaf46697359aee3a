"""Command-line flags of a probe kind, derived from its options model (the one source).

Pure: a pydantic model in, flag descriptions out; a ValidationError in, one line per problem
out. Rules, so a flag can be guessed from a field: ``interval_s`` → ``--interval SECONDS``
(the unit moves from the name into the metavar), ``keep_alive`` → ``--keep-alive`` (a switch),
``resolvers`` (a list) → ``--resolver``, repeatable; ``family`` → ``-4/--ipv4``, ``-6/--ipv6``.
Every value reaches the model as text, so the model alone decides what is valid and
``--count abc`` and ``--count -1`` get the same kind of message.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

#: Unit suffixes that leave the flag name for its metavar.
UNIT_METAVARS = {"_s": "SECONDS", "_bytes": "BYTES", "_mbps": "MBIT/S"}
#: Where the general rule would give a poor name.
RENAMED = {"record_type": "--type"}
#: Fields that are not flags: the positional TARGET, and -4/-6.
NOT_FLAGS = ("target", "family")
FAMILY_FLAGS = {"ipv4": ("-4", "--ipv4"), "ipv6": ("-6", "--ipv6")}

FlagKind = Literal["value", "switch", "repeatable"]


@dataclass(frozen=True, slots=True)
class Flag:
    """One command-line flag and the options-model field it sets."""

    field: str
    name: str  # --count
    kind: FlagKind
    metavar: str
    help: str


def _strip(annotation: Any) -> Any:
    """``int | None`` → ``int``; other annotations as they are."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _kind(annotation: Any) -> FlagKind:
    base = _strip(annotation)
    if base is bool:
        return "switch"
    if typing.get_origin(base) is list:
        return "repeatable"
    return "value"


def flag_name(field: str, annotation: Any) -> str:
    """The flag of a field: unit suffix dropped, lists singular, underscores as hyphens."""
    if field in RENAMED:
        return RENAMED[field]
    stem = field
    for suffix in UNIT_METAVARS:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem.removesuffix(suffix)
            break
    if _kind(annotation) == "repeatable" and stem.endswith("s"):
        stem = stem[:-1]
    return "--" + stem.replace("_", "-")


def _choices(annotation: Any) -> list[str] | None:
    base = _strip(annotation)
    if typing.get_origin(base) is list:
        base = typing.get_args(base)[0]
    if typing.get_origin(base) is Literal:
        return [str(a) for a in typing.get_args(base)]
    return None


def metavar(field: str, annotation: Any) -> str:
    """What the value looks like: the choices, the unit, or the type."""
    choices = _choices(annotation)
    if choices:
        return "[" + "|".join(choices) + "]"
    for suffix, unit in UNIT_METAVARS.items():
        if field.endswith(suffix):
            return unit
    base = _strip(annotation)
    if typing.get_origin(base) is list:
        base = typing.get_args(base)[0]
    names = {int: "INTEGER", float: "NUMBER", Path: "FILE"}
    return names.get(base, "TEXT")


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:_}" if isinstance(value, int) and abs(value) >= 10_000 else str(value)


def range_text(info: FieldInfo) -> str:
    """The bounds of a number field as ``1..10_000``, ``> 0, ≤ 120`` or ``≥ 0``; else ''."""
    low = high = ""
    low_open = high_open = False
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = _number(item.ge)
        elif isinstance(item, annotated_types.Gt):
            low, low_open = _number(item.gt), True
        elif isinstance(item, annotated_types.Le):
            high = _number(item.le)
        elif isinstance(item, annotated_types.Lt):
            high, high_open = _number(item.lt), True
    if low and high and not (low_open or high_open):
        return f"{low}..{high}"
    parts = []
    if low:
        parts.append(f"{'>' if low_open else '≥'} {low}")
    if high:
        parts.append(f"{'<' if high_open else '≤'} {high}")
    return ", ".join(parts)


def default_text(info: FieldInfo) -> str:
    """The model's default as a person reads it; '' when there is none to show."""
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.is_required():
        return ""
    else:
        value = info.default
    if value is None or value is False or value == []:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return _number(value) if isinstance(value, int | float) else str(value)


def help_text(info: FieldInfo) -> str:
    """The field's description, then its bounds and default: ``Pause. (0..60) [default: 1]``."""
    bounds, default = range_text(info), default_text(info)
    parts = (
        (info.description or "").strip(),
        f"({bounds})" if bounds else "",
        f"[default: {default}]" if default else "",
    )
    return " ".join(p for p in parts if p)


def flags_of(model: type[BaseModel]) -> list[Flag]:
    """Every field of ``model`` as a flag, in the model's order (target and family apart)."""
    flags = []
    for field, info in model.model_fields.items():
        if field in NOT_FLAGS:
            continue
        annotation = info.annotation
        flags.append(
            Flag(
                field=field,
                name=flag_name(field, annotation),
                kind=_kind(annotation),
                metavar=metavar(field, annotation),
                help=help_text(info),
            )
        )
    names = [f.name for f in flags]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"{model.__name__}: two fields map to {sorted(duplicates)}")
    return flags


def has_family(model: type[BaseModel]) -> bool:
    """Whether the probe takes -4/-6."""
    return "family" in model.model_fields


def option_of(flags: list[Flag]) -> dict[str, str]:
    """Model field → how the command line spells it (for error messages)."""
    spelled = {f.field: f.name for f in flags}
    spelled.update(family="--ipv4/--ipv6", target="TARGET")
    return spelled


def parse_extra(items: list[str]) -> dict[str, Any]:
    """``-o NAME=VALUE`` pairs as model fields; values are read as YAML scalars/lists."""
    extra: dict[str, Any] = {}
    if not items:
        return extra  # yaml costs ~0.05 s of start-up CPU: only for -o
    import yaml

    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--option {item!r}: expected NAME=VALUE")
        try:
            extra[name.strip()] = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            extra[name.strip()] = text
    return extra


def raw_options(
    target: str,
    given: dict[str, Any],
    *,
    ipv4: bool = False,
    ipv6: bool = False,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    """Raw options for the model: only what was given (field → value); flags win over ``-o``.

    Raises ValueError for -4 with -6 and for a malformed ``-o``.
    """
    raw: dict[str, Any] = {"target": target, **parse_extra(extra or [])}
    for field, value in given.items():
        # Switches not set and repeatables not given leave the model's default.
        if value is None or value is False or value == [] or value == ():
            continue
        raw[field] = list(value) if isinstance(value, tuple) else value
    if ipv4 and ipv6:
        raise ValueError("--ipv4 and --ipv6 exclude each other")
    if ipv4 or ipv6:
        raw["family"] = "ipv4" if ipv4 else "ipv6"
    return raw


def usage_errors(kind: str, exc: ValidationError, spelled: dict[str, str]) -> list[str]:
    """One line per problem, naming the command-line flag rather than the model field."""
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        option = spelled.get(field, f"--option {field}" if field else "")
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            lines.append(f"{option} does not apply to probe {kind}")
        elif option:
            lines.append(f"{option}: {msg}")
        else:
            lines.append(msg)
    return lines
