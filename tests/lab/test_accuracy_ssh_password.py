"""The ssh probe's password authentication against a real sshd in the lab.

sshd runs in the server namespace inside a mount namespace of its own where copies of
/etc/passwd, /etc/shadow and /etc/group with a throw-away user ``wpftest`` are bind-mounted over
the originals (see ``netlab/sshd_password.py``): the host's accounts are never touched. The
password reaches the probe only through an environment variable, as in production.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.lab.netlab import Lab
from tests.lab.netlab.sshd_password import USER, PasswordSshServer, start_password_sshd
from tests.support.metrics import figure
from tests.support.net import wait_until
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Result, Status

pytestmark = pytest.mark.lab
ClientCall = Callable[..., Any]

ENV = "WPL_SSH_PASSWORD"
WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
# sshd's log lines for password attempts (LogLevel VERBOSE)
ACCEPTED = re.compile(rf"Accepted password for {USER} from ")
FAILED = re.compile(rf"Failed password for {USER} from ")
FILES = ("passwd", "shadow", "group")


def _digests() -> dict[str, str]:
    return {name: hashlib.sha256(Path("/etc", name).read_bytes()).hexdigest() for name in FILES}


def _in_mount_ns(mnt: str) -> list[int]:
    """Pids of the processes whose mount namespace is ``mnt``."""
    pids = []
    for ns in Path("/proc").glob("[0-9]*/ns/mnt"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            if os.readlink(ns) == mnt:
                pids.append(int(ns.parts[2]))
    return pids


def check_isolated(lab: Lab, srv: PasswordSshServer) -> None:
    """The user exists only in sshd's own mount namespace, never in the host's files."""
    own_mounts = Path("/proc/self/mountinfo").read_text()
    sshd_mounts = srv.mountinfo()
    for name in FILES:
        host_lines = Path("/etc", name).read_text().splitlines()
        assert not any(line.startswith(f"{USER}:") for line in host_lines), f"/etc/{name}"
        assert srv.copies[f"/etc/{name}"].read_text().count(f"\n{USER}:") == 1
        assert f" /etc/{name} " in sshd_mounts, sshd_mounts
        assert f" /etc/{name} " not in own_mounts, own_mounts
    assert srv.mount_namespace() != os.readlink("/proc/self/ns/mnt")
    netns = os.stat(f"/run/netns/{lab.server.ns.name}")
    sshd_net = os.stat(f"/proc/{srv.proc.pid}/ns/net")
    assert (sshd_net.st_dev, sshd_net.st_ino) == (netns.st_dev, netns.st_ino)


@contextlib.contextmanager
def isolated_sshd(lab: Lab, **kw: Any) -> Iterator[PasswordSshServer]:
    """``start_password_sshd`` checked for isolation; on exit stopped, its mount ns empty
    (so its bind mounts are gone) and the host's account files byte for byte as before."""
    before = _digests()
    srv = start_password_sshd(lab, **kw)
    mnt = ""
    try:
        mnt = srv.mount_namespace()
        check_isolated(lab, srv)
        yield srv
    finally:
        srv.stop()
        if mnt:
            # Connection children end with their connections (the lab kills stragglers anyway).
            wait_until(lambda: not _in_mount_ns(mnt), 5.0)
            left = _in_mount_ns(mnt)
            assert not left, f"processes still in sshd's mount namespace: {left}"
        assert _digests() == before, "the host's account files changed"


@pytest.fixture
def pw_sshd(lab: Lab) -> Iterator[PasswordSshServer]:
    """sshd letting ``wpftest`` in by password (port 2223), isolated and torn down."""
    with isolated_sshd(lab) as srv:
        yield srv


def probe(client_call: ClientCall, srv: PasswordSshServer, **kw: Any) -> Result:
    """One ssh probe run from the client namespace (password from $WPL_SSH_PASSWORD)."""
    options: dict[str, Any] = {
        "target": srv.host, "port": srv.port, "user": srv.user, "password_env": ENV,
        "known_hosts": str(srv.known_hosts), "timeout_s": 10,
    }  # fmt: skip
    options.update(kw)
    result: Result = client_call(run_probe, "ssh", options)
    return result


def cli(lab: Lab, srv: PasswordSshServer, env: dict[str, str], *extra: str) -> Any:
    """``waddleperf probe ssh … --password-env WPL_SSH_PASSWORD --json`` in the client ns."""
    argv = [
        WADDLEPERF, "probe", "ssh", f"{srv.host}:{srv.port}", "--user", srv.user,
        "--password-env", ENV, "--known-hosts", str(srv.known_hosts), "--timeout", "10",
        "--json", *extra,
    ]  # fmt: skip
    child_env = {k: v for k, v in os.environ.items() if k != ENV}
    child_env.update(env)
    return lab.client.ns.run(argv, check=False, env=child_env, timeout=60)


def test_correct_password(
    lab: Lab, pw_sshd: PasswordSshServer, client_call: ClientCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, pw_sshd.password)
    hosts = [pw_sshd.host] + ([pw_sshd.host6] if pw_sshd.host6 else [])
    for host in hosts:
        r = probe(client_call, pw_sshd, target=host, command="echo wpl")
        assert r.status is Status.OK, (r.error, pw_sshd.log()[-2000:])
        assert r.error is None
        assert r.info["user"] == USER and r.info["host_key_checked"] is True
        for phase in ("connect_ms", "kex_ms", "auth_ms", "command_ms", "total_ms"):
            assert figure(r.metrics, phase) > 0, (phase, r.metrics)
        assert r.metrics["command_exit_code"] == 0
        assert r.metrics["command_output_bytes"] == len("wpl\n")
    # Authentication alone (no command) is a measurement too.
    r = probe(client_call, pw_sshd)
    assert r.status is Status.OK, r.error
    assert figure(r.metrics, "auth_ms") > 0 and "command_ms" not in r.metrics
    # A command that fails: the session ran as the user, the probe says degraded.
    r = probe(client_call, pw_sshd, command="exit 3")
    assert r.status is Status.DEGRADED and r.metrics["command_exit_code"] == 3, r.error
    # The command line, end to end: exit 0 and one JSON record.
    out = cli(lab, pw_sshd, {ENV: pw_sshd.password}, "--command", "echo wpl")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["status"] == "ok" and record["metrics"]["auth_ms"] > 0, record
    assert pw_sshd.password not in out.stdout + out.stderr
    assert len(ACCEPTED.findall(pw_sshd.log())) == len(hosts) + 3
    assert not FAILED.search(pw_sshd.log())


def test_wrong_password(
    lab: Lab, pw_sshd: PasswordSshServer, client_call: ClientCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, pw_sshd.password + "x")
    r = probe(client_call, pw_sshd, command="echo wpl")
    assert r.status is Status.FAILED
    assert r.error == f"Authentication as {USER} failed: Authentication failed.", r.error
    assert "no answer" not in r.error
    assert figure(r.metrics, "kex_ms") > 0
    assert "auth_ms" not in r.metrics and "command_ms" not in r.metrics
    # A rejected password is an answer, not a timeout: well inside the 10 s budget.
    assert figure(r.metrics, "total_ms") < 5_000, r.metrics
    # An empty password is refused the same way (PermitEmptyPasswords no).
    monkeypatch.setenv(ENV, "")
    r = probe(client_call, pw_sshd)
    assert r.status is Status.FAILED and r.error is not None
    assert r.error.startswith(f"Authentication as {USER} failed"), r.error
    # The command line: a failed measurement exits 1 with the record on stdout.
    out = cli(lab, pw_sshd, {ENV: "not-" + pw_sshd.password})
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    record = json.loads(out.stdout)
    assert record["status"] == "failed"
    assert "Authentication as wpftest failed" in record["error"], record
    assert not ACCEPTED.search(pw_sshd.log())
    assert len(FAILED.findall(pw_sshd.log())) >= 2, pw_sshd.log()[-2000:]


def test_missing_password_env_is_a_usage_error(
    lab: Lab, pw_sshd: PasswordSshServer, client_call: ClientCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    connections = pw_sshd.log().count("Connection from")  # the fixture's readiness check
    with pytest.raises(ValidationError, match=rf"environment variable {ENV} .*is not set"):
        probe(client_call, pw_sshd, command="echo wpl")
    out = cli(lab, pw_sshd, {})
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stdout == ""
    assert f"environment variable {ENV} (the password) is not set" in out.stderr, out.stderr
    # Nothing was sent: a usage error is found before any connection.
    assert pw_sshd.log().count("Connection from") == connections, pw_sshd.log()[-2000:]


def test_host_key_checked_before_the_password_is_sent(
    lab: Lab, pw_sshd: PasswordSshServer, client_call: ClientCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, pw_sshd.password)
    r = probe(client_call, pw_sshd, known_hosts=str(pw_sshd.empty_known_hosts), command="true")
    assert r.status is Status.FAILED and r.error is not None
    assert "is not in" in r.error and "--insecure-accept-host-key" in r.error, r.error
    assert r.info["host_key_checked"] is False and "auth_ms" not in r.metrics
    r = probe(client_call, pw_sshd, known_hosts=str(pw_sshd.wrong_known_hosts), command="true")
    assert r.status is Status.FAILED and r.error is not None
    assert "HOST KEY MISMATCH" in r.error, r.error
    assert "auth_ms" not in r.metrics
    # Neither run offered the password to the server it could not verify.
    log = pw_sshd.log()
    assert not ACCEPTED.search(log) and not FAILED.search(log), log[-2000:]
    assert "Connection from" in log  # (the runs did reach sshd)
    # The explicit opt-out still authenticates, and says the key was not checked.
    r = probe(
        client_call, pw_sshd, known_hosts=str(pw_sshd.empty_known_hosts),
        insecure_accept_host_key=True, command="true",
    )  # fmt: skip
    assert r.status is Status.OK, r.error
    assert r.info["host_key_checked"] is False and figure(r.metrics, "auth_ms") > 0


def test_partial_success_is_not_a_login(
    lab: Lab, client_call: ClientCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes the password but also wants a key has not logged us in."""
    extra = ["PubkeyAuthentication yes", "AuthenticationMethods password,publickey"]
    with isolated_sshd(lab, port=2224, extra_config=extra) as srv:
        monkeypatch.setenv(ENV, srv.password)
        for command in (None, "echo wpl"):
            r = probe(client_call, srv, command=command)
            assert r.status is Status.FAILED, (r.status, r.metrics)
            assert r.error == (
                f"Authentication as {USER} failed: the server accepted the password but also "
                "requires publickey."
            ), r.error
            assert "auth_ms" not in r.metrics and "command_ms" not in r.metrics
            assert figure(r.metrics, "total_ms") < 5_000  # not a channel-open timeout
        assert f"Partial password for {USER}" in srv.log()
