"""A network namespace of the benchmark's own, so wrk can load a server from several
loopback source addresses (root; iproute2). Its ``lo`` holds 127.0.0.1/8 and, as /32s, the
addresses given: a connection to 127.0.0.N then leaves from 127.0.0.N. Deleted at the end,
whatever happens."""

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
    name = f"wpbench-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        inside = ["ip", "netns", "exec", name]
        subprocess.run([*inside, "ip", "link", "set", "lo", "up"], check=True)
        for addr in addresses:
            subprocess.run([*inside, "ip", "addr", "add", f"{addr}/32", "dev", "lo"], check=True)
        yield inside
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)
