"""ICMP echo: the kernel answers it; we only report whether it is allowed to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROC_SYS = Path("/proc/sys")
IPV4_KEY = "net/ipv4/icmp_echo_ignore_all"
IPV6_KEY = "net/ipv6/icmp/echo_ignore_all"


def parse_ignore_all(text: str) -> bool | None:
    """Whether echo is answered given the sysctl's text (``"0"`` → True); None if unreadable."""
    value = text.strip()
    if value == "0":
        return True
    if value.isdigit():
        return False
    return None


def _read(path: Path) -> bool | None:
    try:
        return parse_ignore_all(path.read_text())
    except OSError:
        return None


def echo_state(root: Path = PROC_SYS) -> dict[str, Any]:
    """``{ipv4_echo, ipv6_echo, source}``: whether the kernel answers ping on each family.

    Either is None (null: unknown) when its sysctl cannot be read or holds no number, e.g. in
    a sandbox without /proc/sys or on kernels without the IPv6 switch (they always answer).
    Unknown is never reported as "off".
    """
    return {
        "ipv4_echo": _read(root / IPV4_KEY),
        "ipv6_echo": _read(root / IPV6_KEY),
        "source": str(PROC_SYS / IPV4_KEY),
    }
