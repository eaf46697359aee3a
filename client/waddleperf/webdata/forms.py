"""The Run page's forms, from each probe's options model (the one the CLI's flags come from,
:mod:`waddleperf.cli.probe_flags`), and the check of what a form sends back.

A form's values reach the model as text, as the CLI's do (:func:`~waddleperf.cli.probe_flags
.raw_options`), so the UI and the command line accept and refuse the same things; errors are
one line per field, keyed by field name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from waddleperf.cli.probe_flags import (
    _choices,
    _kind,
    _strip,
    flags_of,
    has_family,
    help_text,
    metavar,
    raw_options,
)
from waddleperf.probes.base import ProbeOptions, UnknownProbeError, get, names


class FormError(ValueError):
    """Form values the probe's model refuses: ``errors`` maps field → one-line message."""

    def __init__(self, kind: str, errors: dict[str, str]) -> None:
        super().__init__(f"probe {kind}: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _input_type(annotation: Any) -> str:
    if _choices(annotation):
        return "choice"
    kind = _kind(annotation)
    if kind == "switch":
        return "boolean"
    if kind == "repeatable":
        return "list"
    base = _strip(annotation)
    return {int: "integer", float: "number"}.get(base, "text")


def kinds() -> list[str]:
    """Every probe kind a form can be built for."""
    return names()


def form_schema(kind: str) -> dict[str, Any]:
    """The form of probe ``kind``: its fields in the model's order with type, label, help,
    default, bounds and choices. ValueError naming the kind when it is unknown."""
    try:
        probe = get(kind)
    except UnknownProbeError as exc:
        raise ValueError(str(exc)) from None
    model: type[ProbeOptions] = probe.options_model
    flags = {f.field: f for f in flags_of(model)}
    fields = []
    for name, info in model.model_fields.items():
        if name == "family":
            continue
        bounds = {}
        for item in info.metadata:
            for attr in ("ge", "gt", "le", "lt"):
                if hasattr(item, attr):
                    bounds[attr] = getattr(item, attr)
        default = None if info.is_required() or info.default_factory else info.default
        fields.append({
            "name": name,
            "label": name.replace("_", " ").removesuffix(" s").capitalize(),
            "flag": flags[name].name if name in flags else "TARGET",
            "type": _input_type(info.annotation),
            "required": info.is_required(),
            "default": default if isinstance(default, str | int | float | bool) else None,
            "choices": _choices(info.annotation),
            "unit": metavar(name, info.annotation).lower() if name.endswith(("_s", "_bytes"))
            else None,
            "help": help_text(info),
            **bounds,
        })  # fmt: skip
    if has_family(model):
        fields.append({"name": "family", "label": "Address family", "flag": "-4/-6",
                       "type": "choice", "required": False, "default": "any",
                       "choices": ["any", "ipv4", "ipv6"], "unit": None,
                       "help": "IPv4 or IPv6 only."})  # fmt: skip
    return {"kind": kind, "summary": probe.summary, "fields": fields}


def _given(model: type[ProbeOptions], values: Mapping[str, Any]) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("target", "family") or value is None or value == "":
            continue
        info = model.model_fields.get(name)
        kind = _kind(info.annotation) if info is not None else "value"
        if kind == "switch":
            given[name] = value is True or str(value).lower() in ("1", "true", "on", "yes")
        elif kind == "repeatable" and isinstance(value, str):
            given[name] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            given[name] = value
    return given


def check_form(kind: str, values: Mapping[str, Any]) -> ProbeOptions:
    """The validated options of a submitted form (field → text, as posted); FormError with one
    message per bad field, as the CLI would give them."""
    try:
        probe = get(kind)
    except UnknownProbeError as exc:
        raise FormError(kind, {"kind": str(exc)}) from None
    model = probe.options_model
    target = str(values.get("target") or "").strip()
    family = str(values.get("family") or "any")
    if family not in ("any", "ipv4", "ipv6"):
        raise FormError(kind, {"family": f"{family!r} is not one of any, ipv4, ipv6"})
    try:
        raw = raw_options(target, _given(model, values), ipv4=family == "ipv4",
                          ipv6=family == "ipv6")  # fmt: skip
        options: ProbeOptions = probe.options(raw)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"does not apply to probe {kind}"
            errors.setdefault(field, msg)
        raise FormError(kind, errors) from None
    except ValueError as exc:
        raise FormError(kind, {"form": str(exc)}) from None
    return options
