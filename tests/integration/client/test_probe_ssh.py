"""The ssh probe against a real sshd on loopback."""

from __future__ import annotations

from waddleperf.probes.base import run_probe
from waddleperf.results.model import Status


def _run(sshd, **kw):
    opts = {"target": f"127.0.0.1:{sshd.port}", "user": sshd.user, "timeout_s": 10}
    opts.update(kw)
    return run_probe("ssh", opts)


def test_ssh_success_with_command(sshd):
    r = _run(sshd, key_file=str(sshd.user_key), known_hosts=str(sshd.known_hosts), command="true")
    assert r.status is Status.OK, r.error
    for name in ("connect_ms", "kex_ms", "auth_ms", "command_ms", "total_ms"):
        assert r.metrics[name] is not None and r.metrics[name] > 0
    assert r.metrics["command_exit_code"] == 0
    assert r.info["host_key_checked"] is True
    assert str(r.info["server_version"]).startswith("SSH-2.0-OpenSSH")


def test_ssh_wrong_key_is_auth_failure(sshd):
    r = _run(sshd, key_file=str(sshd.other_key), known_hosts=str(sshd.known_hosts))
    assert r.status is Status.FAILED
    assert r.error is not None and "Authentication as root failed" in r.error
    assert r.metrics["kex_ms"] is not None and "auth_ms" not in r.metrics


def test_ssh_unknown_host_key_rejected_unless_opted_out(sshd):
    r = _run(sshd, key_file=str(sshd.user_key), known_hosts=str(sshd.empty_known_hosts))
    assert r.status is Status.FAILED
    assert r.error is not None and "not in" in r.error and "--insecure-accept-host-key" in r.error
    assert "auth_ms" not in r.metrics
    r = _run(
        sshd,
        key_file=str(sshd.user_key),
        known_hosts=str(sshd.empty_known_hosts),
        insecure_accept_host_key=True,
        command="echo hi",
    )
    assert r.status is Status.OK, r.error
    assert r.info["host_key_checked"] is False
    assert r.metrics["command_output_bytes"] == 3


def test_ssh_refused(sshd):
    r = run_probe("ssh", {"target": "127.0.0.1", "port": 1, "timeout_s": 2})
    assert r.status is Status.FAILED and r.error is not None and "connect" in r.error
