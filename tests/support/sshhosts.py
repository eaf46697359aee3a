"""Hosts for deployment tests: each a network namespace (a veth to the root namespace, the
addresses only inside it) running Debian's sshd in a mount namespace of its own whose /etc,
/opt and /var/lib are overlays (tests/support/mountns.py): a "machine" that Ansible reaches
over SSH as root with a key made for the test, and that writes nothing to the real disk.
Namespaces, links and sshd are removed at the end, whatever happens."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import mountns
from tests.support.net import wait_until
from waddleperf_common.procs import stop

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Host:
    """One machine: its namespace, the address the controller reaches, its overlay root."""

    netns: str
    address: str
    root: Path
    sshd_pid: int

    def enter(self, argv: list[str]) -> list[str]:
        """argv inside this machine (its network and mount namespaces)."""
        return ["nsenter", f"--target={self.sshd_pid}", "--mount", "--net", "--", *argv]


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)  # fmt: skip
    return path


def _port_open(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((address, port)) == 0


@contextmanager
def netns(index: int) -> Iterator[tuple[str, str]]:
    """A namespace linked to the root one by a veth: (name, its address 10.213.N.2)."""
    name = f"wpdep{secrets.token_hex(3)}"
    outside, inside = f"{name}o", f"{name}i"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "link", "add", outside, "type", "veth", "peer", "name", inside,
                        "netns", name], check=True)  # fmt: skip
        subprocess.run(["ip", "addr", "add", f"10.213.{index}.1/30", "dev", outside], check=True)
        subprocess.run(["ip", "link", "set", outside, "up"], check=True)
        for argv in (["addr", "add", f"10.213.{index}.2/30", "dev", inside],
                     ["link", "set", inside, "up"], ["link", "set", "lo", "up"]):  # fmt: skip
            subprocess.run(["ip", "-n", name, *argv], check=True)
        yield name, f"10.213.{index}.2"
    finally:
        kill_all_in(name)
        subprocess.run(["ip", "link", "del", outside], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "delete", name], check=False)


def kill_all_in(name: str) -> None:
    """SIGKILL every process in namespace ``name`` and wait for them to go.

    sshd's per-connection children outlive the listener (and, their TCP peer gone with the
    namespace's links, would wait for it for ever), as would anything a test ran inside.
    """
    for _ in range(50):
        listed = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
        pids = [int(p) for p in listed.stdout.split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    raise RuntimeError(f"processes left in namespace {name}: {pids}")


def link(a: str, b: str, a_addr: str, b_addr: str) -> None:
    """A veth between namespaces ``a`` and ``b`` (gone with them), /30 addresses each side."""
    ea, eb = f"l{secrets.token_hex(3)}a", f"l{secrets.token_hex(3)}b"
    subprocess.run(["ip", "-n", a, "link", "add", ea, "type", "veth", "peer", "name", eb,
                    "netns", b], check=True)  # fmt: skip
    for ns, dev, addr in ((a, ea, a_addr), (b, eb, b_addr)):
        subprocess.run(["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"], check=True)


@contextmanager
def machine(stack: ExitStack, work: Path, index: int, authorized: Path) -> Iterator[Host]:
    """A machine answering SSH on port 22 of its address; root logs in with ``authorized``."""
    name, address = stack.enter_context(netns(index))
    root = work / f"machine{index}"
    root.mkdir()
    host_key = keygen(work / f"hostkey{index}")
    cfg = work / f"sshd{index}.conf"
    lines = [f"ListenAddress {address}", "Port 22", f"HostKey {host_key}",
             f"AuthorizedKeysFile {authorized}", "PermitRootLogin prohibit-password",
             "PasswordAuthentication no", "KbdInteractiveAuthentication no", "StrictModes no",
             "UsePAM no", f"PidFile {work / f'sshd{index}.pid'}"]  # fmt: skip
    cfg.write_text("\n".join(lines) + "\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = (work / f"sshd{index}.log").open("wb")
    argv = ["ip", "netns", "exec", name, *mountns.wrap(root, [SSHD, "-D", "-e", "-f", str(cfg)])]
    proc = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        if not wait_until(lambda: proc.poll() is None and _port_open(address, 22), 15):
            raise RuntimeError(f"sshd did not start: {(work / f'sshd{index}.log').read_text()}")
        yield Host(name, address, root, proc.pid)
    finally:
        stop(proc, 5)
        log.close()


def known_hosts(path: Path, hosts: list[Host], work: Path) -> Path:
    """A known_hosts file naming each host's key by its address."""
    lines = []
    for i, host in enumerate(hosts):
        pub = (work / f"hostkey{i + 1}.pub").read_text().split()
        lines.append(f"{host.address} {pub[0]} {pub[1]}\n")
    path.write_text("".join(lines))
    return path
