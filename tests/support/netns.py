"""A throwaway network namespace with extra loopback addresses (root; iproute2): a load
from several source addresses (``bench/server.py``), IPv6 sources of one /64 and another
(the per-source accounting tests). Its ``lo`` holds 127.0.0.1/8, ::1 and the addresses
given (/32 or /128, no duplicate address detection): a connection to 127.0.0.N leaves from
127.0.0.N. Deleted at the end, whatever happens."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def available() -> bool:
    """Whether this process can make a namespace (root, and ``ip`` installed)."""
    return (
        os.geteuid() == 0
        and subprocess.run(["ip", "-V"], capture_output=True, check=False).returncode == 0
    )


@contextmanager
def namespace(addresses: Sequence[str]) -> Iterator[list[str]]:
    """A fresh namespace with ``lo`` up and ``addresses`` on it; yields the argv prefix
    that runs a command inside it (``ip netns exec NAME``)."""
    name = f"wptest-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        inside = ["ip", "netns", "exec", name]
        subprocess.run([*inside, "ip", "link", "set", "lo", "up"], check=True)
        for addr in addresses:
            cidr, extra = (f"{addr}/128", ["nodad"]) if ":" in addr else (f"{addr}/32", [])
            subprocess.run([*inside, "ip", "addr", "add", cidr, "dev", "lo", *extra], check=True)
        yield inside
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)
