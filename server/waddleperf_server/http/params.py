"""Query-parameter rules of the HTTP endpoints, as pure functions (no Flask)."""

from __future__ import annotations

import re
from collections.abc import Mapping

_DIGITS = re.compile(r"[0-9]+")


class ParamError(ValueError):
    """A query parameter is malformed or out of range; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


def bounded_int(args: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    """The integer value of query parameter ``name``, or ``default`` when it is absent.

    Only plain decimal digits are accepted (no sign, no fraction, no exponent); a value
    outside ``low..high`` or not an integer raises ParamError naming the parameter.
    """
    raw = args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    # Length check first: int() of a 100 000-digit string is slow (and Python refuses it).
    if not _DIGITS.fullmatch(text) or len(text) > 19:
        raise ParamError(name, f"{name} must be an integer between {low} and {high}, got {raw!r}")
    value = int(text)
    if not low <= value <= high:
        raise ParamError(name, f"{name} must be between {low} and {high}, got {value}")
    return value


def garbage_chunks(raw: str | None, default: int, cap: int) -> int:
    """Number of 1 MiB chunks garbage.php sends for ``ckSize=raw``, LibreSpeed's way.

    Never an error: absent, non-numeric (``abc``, ``-1``, ``2.5``) or zero falls back to
    ``default``; any all-digit value above ``cap`` (however long) is capped, as PHP's
    intval() saturates and the reference backend then caps at 1024.
    """
    if raw is None:
        return default
    text = raw.strip()
    if not _DIGITS.fullmatch(text):
        return default
    # Compare lengths before converting so absurdly long digit strings cost nothing.
    digits = text.lstrip("0")
    if not digits:
        return default
    if len(digits) > len(str(cap)) or int(digits) > cap:
        return cap
    return int(digits)


def flag(args: Mapping[str, str], name: str) -> bool:
    """Whether a LibreSpeed-style switch is on: present at all, whatever its value.

    The reference backend tests ``isset($_GET[name])``, so ``cors=false`` still means on.
    """
    return name in args
