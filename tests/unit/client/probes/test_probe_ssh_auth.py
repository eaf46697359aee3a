"""The ssh probe's authentication outcomes, on a fake paramiko Transport and socket (no I/O).

Regression tests: the probe left paramiko's 30 s ``auth_timeout`` in place (``--timeout`` did not
bound authentication) and reported its expiry as a rejected login; and a "partial success" (the
server takes the password but also requires a key, ``AuthenticationMethods password,publickey``)
was reported as status ok with ``auth_ms`` although nothing was logged in.
"""

from __future__ import annotations

import socket
import types
from collections.abc import Callable
from typing import Any, ClassVar

import paramiko
import pytest

from waddleperf.probes import ssh as ssh_probe
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Result, Status

ENV = "WPL_UNIT_SSH_PASSWORD"


class FakeKey:
    def get_name(self) -> str:
        return "ssh-ed25519"

    def asbytes(self) -> bytes:
        return b"fake host key"


class FakeSocket:
    def __init__(self, *args: Any) -> None:
        del args

    def setsockopt(self, *args: Any) -> None:
        del args

    def settimeout(self, value: float) -> None:
        del value

    def connect(self, addr: Any) -> None:
        del addr

    def close(self) -> None:
        pass


def fake_transport(auth: Callable[[FakeTransport], list[str]]) -> type[FakeTransport]:
    class T(FakeTransport):
        def auth_password(self, username: str, password: str) -> list[str]:
            self.seen = (username, password)
            return auth(self)

    return T


class FakeTransport:
    """What the probe uses of paramiko.Transport; paramiko's defaults where it has them."""

    instances: ClassVar[list[FakeTransport]] = []

    def __init__(self, sock: Any) -> None:
        del sock
        self.banner_timeout = 15.0
        self.handshake_timeout = 15.0
        self.auth_timeout = 30.0  # paramiko.Transport's default
        self.remote_version = "SSH-2.0-OpenSSH_9.2"
        self.authenticated = False
        self.seen: tuple[str, str] | None = None
        self.log_name = "paramiko.transport"
        FakeTransport.instances.append(self)

    def set_log_channel(self, name: str) -> None:
        self.log_name = name

    def start_client(self, timeout: float | None = None) -> None:
        del timeout

    def get_remote_server_key(self) -> FakeKey:
        return FakeKey()

    def is_authenticated(self) -> bool:
        return self.authenticated

    def auth_password(self, username: str, password: str) -> list[str]:
        raise NotImplementedError

    def open_session(self, timeout: float | None = None) -> Any:
        raise AssertionError("no session may be opened without authentication")

    def close(self) -> None:
        pass


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the ssh probe with password auth on a fake transport built from ``auth``."""
    monkeypatch.setenv(ENV, "s3cret")
    addr = types.SimpleNamespace(
        family=socket.AF_INET, sockaddr=("192.0.2.1", 22), address="192.0.2.1"
    )
    monkeypatch.setattr(ssh_probe, "resolve", lambda *a: addr)
    fake_socket = types.SimpleNamespace(
        socket=FakeSocket, SOCK_STREAM=socket.SOCK_STREAM, IPPROTO_TCP=socket.IPPROTO_TCP,
        TCP_NODELAY=socket.TCP_NODELAY, timeout=TimeoutError,
    )  # fmt: skip
    monkeypatch.setattr(ssh_probe, "socket", fake_socket)
    FakeTransport.instances.clear()

    def go(auth: Callable[[FakeTransport], list[str]], **kw: Any) -> Result:
        monkeypatch.setattr(paramiko, "Transport", fake_transport(auth))
        options = {"target": "192.0.2.1", "user": "wpftest", "password_env": ENV,
                   "insecure_accept_host_key": True, "timeout_s": 2.5, **kw}  # fmt: skip
        return run_probe("ssh", options)

    return go


class FakeClock:
    """``time.perf_counter_ns`` for the probe: moves only when a fake phase takes time."""

    def __init__(self) -> None:
        self.ns = 10**12

    def perf_counter_ns(self) -> int:
        return self.ns

    def take(self, ms: float) -> None:
        self.ns += round(ms * 1e6)


def test_password_accepted_and_auth_ms_is_the_time_auth_took(
    run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(ssh_probe, "time", clock)  # the probe's only use of time is its clock
    monkeypatch.setattr(FakeTransport, "start_client", lambda t, timeout=None: clock.take(7.0))

    def ok(t: FakeTransport) -> list[str]:
        clock.take(42.5)  # the server's answer took 42.5 ms
        t.authenticated = True
        return []

    r = run(ok)
    assert r.status is Status.OK, r.error
    assert FakeTransport.instances[0].seen == ("wpftest", "s3cret")
    assert r.error is None
    # each phase holds exactly its own time: key exchange 7 ms, authentication 42.5 ms
    assert r.metrics["auth_ms"] == pytest.approx(42.5)
    assert r.metrics["kex_ms"] == pytest.approx(7.0) and r.metrics["connect_ms"] == 0
    assert r.metrics["total_ms"] == pytest.approx(49.5)


def test_auth_timeout_is_the_probes_timeout_and_reported_as_a_timeout(
    run: Callable[..., Result],
) -> None:
    def silent(t: FakeTransport) -> list[str]:
        # paramiko waits auth_timeout for the server's answer, then raises this.
        raise paramiko.AuthenticationException("Authentication timeout.")

    r = run(silent)
    assert FakeTransport.instances[0].auth_timeout == 2.5  # not paramiko's 30 s
    assert r.status is Status.FAILED
    assert r.error == "SSH authentication failed: no answer within 2.5 s.", r.error
    assert "auth_ms" not in r.metrics


def test_wrong_password_is_an_authentication_failure(run: Callable[..., Result]) -> None:
    def reject(t: FakeTransport) -> list[str]:
        raise paramiko.AuthenticationException("Authentication failed.")

    r = run(reject)
    assert r.status is Status.FAILED
    assert r.error == "Authentication as wpftest failed: Authentication failed."
    assert "auth_ms" not in r.metrics


@pytest.mark.parametrize("command", [None, "true"])
def test_partial_success_is_not_a_login(run: Callable[..., Result], command: str | None) -> None:
    def partial(t: FakeTransport) -> list[str]:
        return ["publickey"]  # what paramiko returns on a partial success; not authenticated

    r = run(partial, command=command)
    assert r.status is Status.FAILED
    assert r.error == (
        "Authentication as wpftest failed: the server accepted the password but also requires "
        "publickey."
    ), r.error
    assert "auth_ms" not in r.metrics and "command_ms" not in r.metrics
