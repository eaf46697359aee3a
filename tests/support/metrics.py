"""Reading a record's figures in tests: a missing or non-numeric figure fails, with its name,
instead of turning into 0 (``float(m[k] or 0)`` passes an upper bound on None)."""

from __future__ import annotations

from collections.abc import Mapping


def figure(metrics: Mapping[str, object], key: str) -> float:
    """``metrics[key]`` as a float; AssertionError naming the key when absent or not a number."""
    value = metrics.get(key)
    assert isinstance(value, int | float) and not isinstance(value, bool), (
        f"metric {key!r} is {value!r}, not a number: {dict(metrics)}"
    )
    return float(value)
