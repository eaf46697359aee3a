"""The HTTP service's status summed over its worker processes. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def merge(statuses: Sequence[Mapping[str, Any]], same: Iterable[str]) -> dict[str, Any]:
    """One status from the workers' ``statuses``: numbers are summed (connections, sources,
    refusals: each worker counts its own sources, which steering keeps disjoint), nested
    mappings merged the same way, keys named in ``same`` (settings every worker repeats,
    such as ``port``) and anything else (text, booleans, lists) taken from the first worker
    that has them."""
    constant = set(same)
    out: dict[str, Any] = {}
    keys: list[str] = []
    for status in statuses:
        keys += [k for k in status if k not in keys]
    for key in keys:
        values = [s[key] for s in statuses if key in s]
        if key not in constant and all(_number(v) for v in values):
            out[key] = sum(values)
        elif key not in constant and all(isinstance(v, Mapping) for v in values):
            out[key] = merge(values, ())
        else:
            out[key] = values[0]
    return out
