"""Can this machine run the lab? One sentence per missing piece, so a skip says exactly why."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

# tool on PATH (or absolute path) → Debian package that provides it (see the Makefile).
TOOLS = {
    "ip": "iproute2",
    "tc": "iproute2",
    "nft": "nftables",
    "ping": "iputils-ping",
    "iperf3": "iperf3",
    "traceroute": "traceroute",
    "mtr": "mtr-tiny",
    "dnsmasq": "dnsmasq-base",
    "/usr/sbin/sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "dig": "dnsutils",
    "sysctl": "procps",
}


def _probe_netns() -> str | None:
    name = f"wpl-probe-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
        if made.returncode != 0:
            return f"cannot create a network namespace: {made.stderr.strip()}"
        return None
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@lru_cache(maxsize=1)
def missing_requirements() -> tuple[str, ...]:
    """Why the lab cannot run here; empty when it can."""
    reasons: list[str] = []
    pretend = os.environ.get("WPL_LAB_PRETEND_MISSING")
    if pretend:  # lets the lab's own tests check the skip/fail path on a machine that has it all
        return (pretend,)
    if os.geteuid() != 0:
        return ("the network lab needs root (network namespaces, tc, nftables, TUN)",)
    absent = sorted({f"{t} ({pkg})" for t, pkg in TOOLS.items() if not shutil.which(t)})
    if absent:
        reasons.append("missing tools: " + ", ".join(absent) + " — `make setup` installs them")
    if not Path("/dev/net/tun").exists():
        reasons.append("/dev/net/tun is missing (the delayer needs TUN devices)")
    if shutil.which("ip"):
        err = _probe_netns()
        if err:
            reasons.append(err)
    return tuple(reasons)
