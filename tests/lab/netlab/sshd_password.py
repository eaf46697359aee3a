"""sshd with password authentication for a throw-away user, without touching the host's accounts.

The host's ``/etc/passwd``, ``/etc/shadow`` and ``/etc/group`` are never written. Copies of them
with one more user (``wpftest``, a random password hashed by ``openssl passwd -6``) are written
to the lab's temp dir, and sshd is started through this file run as a launcher::

    ip netns exec <server ns> python -I sshd_password.py \\
        --bind COPY=/etc/passwd --bind … -- /usr/sbin/sshd -D -e -f CONFIG

The launcher enters a mount namespace of its own (``unshare(CLONE_NEWNS)``), makes every mount
in it private (nothing propagates back to the host), bind-mounts the copies read-only over the
originals and execs sshd, so sshd and every process it forks see the extra user while the rest
of the machine does not. The bind mounts exist only in that namespace and vanish with its last
process; the process is the Popen's own pid (``ip netns exec`` and the launcher both exec), in
the lab's server namespace, so the fixture's stop and the lab's teardown both end it.

sshd runs with ``UsePAM no`` (it checks the password against the shadow copy itself),
``PasswordAuthentication yes``, no public key or keyboard-interactive authentication, its own
host key and config, and lets in only the throw-away user.

The launcher part uses the standard library only (it runs under ``python -I``); the lab part
imports the lab lazily.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.lab.netlab.topology import Lab

SSHD = "/usr/sbin/sshd"
USER = "wpftest"
ACCOUNT_FILES = ("passwd", "shadow", "group")

CLONE_NEWNS = 0x00020000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000


# --- the launcher (runs inside the server namespace, standard library only) ---------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def private_mounts(binds: Sequence[tuple[str, str]]) -> None:
    """Enter a new mount namespace, make it private, bind ``src`` read-only over each ``dst``."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Private, recursively: neither our bind mounts nor their unmounting reach any other namespace.
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for src, dst in binds:
        if not (os.path.isfile(src) and os.path.isfile(dst)):
            raise FileNotFoundError(f"bind {src} over {dst}: both must be regular files")
        s, d = os.fsencode(src), os.fsencode(dst)
        _check(libc.mount(s, d, None, MS_BIND, None), f"mount --bind {src} {dst}")
        _check(
            libc.mount(None, d, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
            f"mount -o remount,bind,ro {dst}",
        )


def launch(argv: Sequence[str]) -> None:
    """``--bind SRC=DST … -- PROGRAM ARGS…``: private mounts, then exec PROGRAM (never returns)."""
    args = list(argv)
    if "--" not in args:
        raise SystemExit("usage: sshd_password.py --bind SRC=DST … -- PROGRAM [ARGS…]")
    split = args.index("--")
    opts, program = args[:split], args[split + 1 :]
    binds: list[tuple[str, str]] = []
    while opts:
        flag, value = opts[0], opts[1] if len(opts) > 1 else ""
        if flag != "--bind" or "=" not in value:
            raise SystemExit(f"bad launcher option {flag!r} {value!r}")
        src, dst = value.split("=", 1)
        binds.append((src, dst))
        opts = opts[2:]
    if not program:
        raise SystemExit("no program to run")
    private_mounts(binds)
    os.execv(program[0], program)


# --- the lab side --------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """A SHA-512 crypt hash (``$6$…``) of ``password``; the password goes through stdin only."""
    out = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    digest = out.stdout.strip()
    if not digest.startswith("$6$"):
        raise RuntimeError(f"openssl passwd -6 gave {digest!r}")
    return digest


def _free_id(*tables: str) -> int:
    """An id used as neither uid nor gid in the given passwd/group texts (below systemd's range)."""
    used: set[int] = set()
    for text in tables:
        for line in text.splitlines():
            fields = line.split(":")
            for f in fields[2:4]:
                if f.isdigit():
                    used.add(int(f))
    return next(i for i in range(60_100, 61_000) if i not in used)


def account_copies(
    directory: Path, user: str, password: str, etc: Path = Path("/etc")
) -> dict[str, Path]:
    """Copies of etc/passwd, shadow and group with ``user`` added; {original path: copy}."""
    originals = {name: (etc / name).read_text() for name in ACCOUNT_FILES}
    for name, text in originals.items():
        if any(line.split(":", 1)[0] == user for line in text.splitlines()):
            raise RuntimeError(f"{user} already exists in {etc / name}; refusing to shadow it")
    uid = _free_id(originals["passwd"], originals["group"])
    days = int(time.time() // 86_400)
    extra = {
        "passwd": f"{user}:x:{uid}:{uid}:WaddlePerf lab test user:/:/bin/sh\n",
        "shadow": f"{user}:{hash_password(password)}:{days}:0:99999:7:::\n",
        "group": f"{user}:x:{uid}:\n",
    }
    copies: dict[str, Path] = {}
    for name, text in originals.items():
        copy = directory / name
        if text and not text.endswith("\n"):
            text += "\n"
        copy.write_text(text + extra[name])
        copy.chmod(0o640 if name == "shadow" else 0o644)
        copies[str(etc / name)] = copy
    return copies


@dataclass
class PasswordSshServer:
    """sshd in the server namespace that lets ``user`` in by ``password`` only."""

    host: str
    host6: str | None
    port: int
    user: str
    password: str = field(repr=False)
    known_hosts: Path  # the server's real host key, OpenSSH naming
    wrong_known_hosts: Path  # another key under the same names (a man in the middle)
    empty_known_hosts: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    copies: dict[str, Path]

    def log(self) -> str:
        """sshd's log (-e: to stderr)."""
        return self.log_path.read_text(errors="replace")

    def mount_namespace(self) -> str:
        """sshd's mount namespace (``mnt:[inode]``)."""
        return os.readlink(f"/proc/{self.proc.pid}/ns/mnt")

    def mountinfo(self) -> str:
        """The mount table sshd sees."""
        return Path(f"/proc/{self.proc.pid}/mountinfo").read_text()

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM sshd (the pid we started) and wait; its mount namespace goes with it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wpl-lab", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def start_password_sshd(
    lab: Lab,
    port: int = 2223,
    user: str = USER,
    extra_config: Sequence[str] = (),
    wait: float = 10.0,
) -> PasswordSshServer:
    """Start sshd for ``user`` (random password) in its own mount ns inside the server ns.

    ``extra_config`` lines come first, so they win over the defaults (sshd keeps the first
    value of each keyword).
    """
    from tests.lab.netlab.services import ServiceStartError
    from tests.support.net import wait_until

    d = lab.workdir / f"ssh-password-{port}"
    d.mkdir(mode=0o700)
    host_key = d / "host_ed25519"
    host_pub = _keygen(host_key)
    other_pub = _keygen(d / "other_ed25519")
    hosts = [lab.server_ip] + ([lab.server_ip6] if lab.ipv6 else [])

    def known(path: Path, key: str) -> Path:
        path.write_text("".join(f"[{h}]:{port} {key}\n" for h in hosts))
        return path

    password = secrets.token_urlsafe(18)
    accounts = d / "etc"
    accounts.mkdir(mode=0o700)
    copies = account_copies(accounts, user, password)
    config = d / "sshd_config"
    lines = [*extra_config, f"Port {port}", *(f"ListenAddress {h}" for h in hosts)]
    lines += [
        f"HostKey {host_key}", "PidFile none", "AuthorizedKeysFile none",
        "PasswordAuthentication yes", "PermitEmptyPasswords no", "PubkeyAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "PermitRootLogin no",
        f"AllowUsers {user}", "StrictModes no", "MaxAuthTries 3", "LogLevel VERBOSE",
    ]  # fmt: skip
    config.write_text("\n".join(lines) + "\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    argv = [sys.executable, "-I", str(Path(__file__).resolve())]
    for original, copy in copies.items():
        argv += ["--bind", f"{copy}={original}"]
    argv += ["--", SSHD, "-D", "-e", "-f", str(config)]
    log_path = d / "sshd.log"
    with log_path.open("wb") as err:
        proc = lab.server.ns.popen(argv, stderr=err)
    srv = PasswordSshServer(
        lab.server_ip, lab.server_ip6 if lab.ipv6 else None, port, user, password,
        known(d / "known_hosts", host_pub), known(d / "wrong_known_hosts", other_pub),
        d / "empty_known_hosts", log_path, proc, copies,
    )  # fmt: skip
    srv.empty_known_hosts.write_text("")

    def listening() -> bool:
        with socket.create_connection((lab.server_ip, port), timeout=1.0):
            return True

    up = wait_until(lambda: proc.poll() is not None or lab.client.ns.call(listening), wait)
    if not up or proc.poll() is not None:
        srv.stop(2)
        raise ServiceStartError(f"sshd (password) did not start: {srv.log()[-3000:]}")
    # Let sshd log the end of that readiness connection, so a test's log holds only its own.
    wait_until(lambda: "Connection closed by" in srv.log(), 5.0, 0.02)
    return srv


if __name__ == "__main__":
    launch(sys.argv[1:])
