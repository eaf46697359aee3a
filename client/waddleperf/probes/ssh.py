"""SSH: TCP connect, key exchange, authentication and an optional command round trip (paramiko).

Host keys are checked against known_hosts (RejectPolicy semantics) unless the caller opts out
explicitly with ``insecure_accept_host_key``. Passwords come only from an environment
variable, never from an option value.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import logging
import os
import socket
import time
from pathlib import Path

import paramiko
from pydantic import Field, model_validator

from waddleperf.probes import progress
from waddleperf.probes.base import (
    EndpointTarget,
    Family,
    Probe,
    ProbeOptions,
    Recording,
    RunContext,
)
from waddleperf.probes.netio import ResolveError, resolve
from waddleperf.probes.targets import Endpoint, parse_endpoint
from waddleperf.results.model import MetricValue, Result, Scalar, Status

_MAX_OUTPUT = 1 << 20  # a probe's command should be tiny; stop reading past this
_AUTH_TIMEOUT = "Authentication timeout."  # what paramiko raises when auth_timeout runs out


class SshOptions(ProbeOptions):
    """Options of the SSH probe."""

    target: EndpointTarget = Field(description="host[:port] or [v6]:port.")
    port: int | None = Field(default=None, ge=1, le=65_535, description="Default 22.")
    user: str = Field(default_factory=getpass.getuser, min_length=1, description="User name.")
    key_file: Path | None = Field(default=None, description="Private key for publickey auth.")
    password_env: str | None = Field(default=None, description="Variable holding a password.")
    command: str | None = Field(default=None, description="Run this and time the round trip.")
    known_hosts: Path | None = Field(default=None, description="Default ~/.ssh/known_hosts.")
    insecure_accept_host_key: bool = Field(
        default=False, description="Do not check the host key against known_hosts."
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per step.")
    family: Family = "any"

    @model_validator(mode="after")
    def _auth_source(self) -> SshOptions:
        if self.key_file and self.password_env:
            raise ValueError("give --key-file or --password-env, not both")
        if self.key_file is not None and not self.key_file.is_file():
            raise ValueError(f"key file {self.key_file} does not exist")
        if self.password_env is not None and self.password_env not in os.environ:
            raise ValueError(f"environment variable {self.password_env} (the password) is not set")
        if self.command is not None and not (self.key_file or self.password_env):
            raise ValueError("a command needs authentication (--key-file or --password-env)")
        return self


#: Where this probe's paramiko transports log. paramiko logs a failed handshake from its own
#: thread at ERROR, traceback included ("Exception (client): Error reading SSH protocol
#: banner"); with logging unconfigured Python prints that to stderr. The probe reports the
#: failure in its record, so these records go nowhere.
TRANSPORT_LOG = "waddleperf.probes.ssh.transport"
_NO_BANNER = ("Error reading SSH protocol banner", "No existing session")


def quiet_transport_log() -> logging.Logger:
    """The logger of the probe's transports: it neither prints nor propagates."""
    log = logging.getLogger(TRANSPORT_LOG)
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())
    log.propagate = False
    return log


def known_hosts_name(endpoint: Endpoint) -> str:
    """How OpenSSH names the host in known_hosts: ``host`` on 22, else ``[host]:port``."""
    return endpoint.host.name if endpoint.port == 22 else f"[{endpoint.host.name}]:{endpoint.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def check_host_key(key: paramiko.PKey, endpoint: Endpoint, known_hosts: Path | None) -> str | None:
    """None when ``key`` is the known key for the host, else why it is not (a sentence)."""
    path = known_hosts or Path.home() / ".ssh" / "known_hosts"
    hostkeys = paramiko.HostKeys()
    if path.is_file():
        hostkeys.load(str(path))
    name = known_hosts_name(endpoint)
    entry = hostkeys.lookup(name)
    if entry is None or key.get_name() not in entry:
        return (
            f"Host key {key.get_name()} {fingerprint(key)} of {name} is not in {path}; "
            "add it, or pass --insecure-accept-host-key to skip the check"
        )
    if entry[key.get_name()] != key:
        return f"HOST KEY MISMATCH for {name}: the server's key {fingerprint(key)} is not {path}'s"
    return None


#: Phase metrics in the order they happen, and how a live line names them.
PHASE_WORDS = {"connect_ms": "connect", "kex_ms": "kex", "auth_ms": "auth", "command_ms": "command"}


def session_event(metrics: dict[str, MetricValue], error: str | None) -> progress.Reply:
    """The live line of the session: total time, each phase's time (or the error)."""
    phases = [f"{word} {metrics[k]:.3f} ms" for k, word in PHASE_WORDS.items() if k in metrics]
    if "command_exit_code" in metrics:
        phases.append(f"exit {metrics['command_exit_code']}")
    detail = ", ".join(phases) + (f"; {error}" if error else "")
    return progress.Reply(0, error is None, None if error else metrics["total_ms"], detail)


class SshProbe(Probe[SshOptions]):
    """SSH handshake phase timings."""

    name = "ssh"
    options_model = SshOptions
    summary = "SSH: TCP connect, key exchange, authentication, command round trip (ms)"

    def run(self, options: SshOptions, context: RunContext | None = None) -> Result:
        """Connect, exchange keys, authenticate, run the command; each phase in ms."""
        rec = Recording(self.kind, options, context)
        metrics: dict[str, MetricValue] = {}
        info: dict[str, Scalar] = {"user": options.user}
        begin = time.perf_counter_ns()
        try:
            endpoint = parse_endpoint(options.target, options.port or 22)
            addr = resolve(endpoint.host, endpoint.port, socket.SOCK_STREAM, options.family)
        except (ResolveError, ValueError) as exc:
            return rec.failed(f"{exc}.")
        info["address"] = addr.address
        sock = socket.socket(addr.family, socket.SOCK_STREAM)
        # Handshake messages are small writes that each wait for the peer: with Nagle a write
        # waits for the ACK of the previous one, which the server delays up to 40 ms, so every
        # phase would carry a delayed-ACK stall that no round trip of the protocol explains
        # (auth took ~50 ms instead of ~10 ms on a zero-delay lab path).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(options.timeout_s)
        transport: paramiko.Transport | None = None
        phase = "connect"
        error: str | None = None
        try:
            start = time.perf_counter_ns()
            sock.connect(addr.sockaddr)
            metrics["connect_ms"] = (time.perf_counter_ns() - start) / 1e6
            phase = "key exchange"
            transport = paramiko.Transport(sock)
            quiet_transport_log()
            transport.set_log_channel(TRANSPORT_LOG)
            transport.banner_timeout = options.timeout_s
            transport.handshake_timeout = options.timeout_s
            # paramiko's own default is 30 s whatever the probe's timeout says.
            transport.auth_timeout = options.timeout_s
            start = time.perf_counter_ns()
            transport.start_client(timeout=options.timeout_s)
            metrics["kex_ms"] = (time.perf_counter_ns() - start) / 1e6
            key = transport.get_remote_server_key()
            info.update(
                server_version=transport.remote_version,
                host_key=f"{key.get_name()} {fingerprint(key)}",
            )
            reason = check_host_key(key, endpoint, options.known_hosts)
            info["host_key_checked"] = reason is None
            if reason is not None and not options.insecure_accept_host_key:
                raise paramiko.SSHException(reason)
            if options.key_file or options.password_env:
                phase = "authentication"
                start = time.perf_counter_ns()
                if options.key_file:
                    pkey = paramiko.PKey.from_path(options.key_file)
                    remaining = transport.auth_publickey(options.user, pkey)
                else:
                    password = os.environ[options.password_env or ""]
                    remaining = transport.auth_password(options.user, password)
                if not transport.is_authenticated():
                    # "Partial success" (AuthenticationMethods a,b): accepted, not logged in.
                    what = "key" if options.key_file else "password"
                    more = " or ".join(remaining) or "another method"
                    raise paramiko.AuthenticationException(
                        f"the server accepted the {what} but also requires {more}"
                    )
                metrics["auth_ms"] = (time.perf_counter_ns() - start) / 1e6
            if options.command is not None:
                phase = "command"
                self._command(transport, options, metrics)
        except KeyboardInterrupt as exc:
            rec.interrupt(exc)
        except paramiko.AuthenticationException as exc:
            if str(exc) == _AUTH_TIMEOUT:  # no answer: a timeout, not a rejection
                error = f"SSH authentication failed: no answer within {options.timeout_s:g} s."
            else:
                error = f"Authentication as {options.user} failed: {exc}."
        except (paramiko.SSHException, OSError, EOFError) as exc:
            text = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError | socket.timeout):
                text = f"no answer within {options.timeout_s:g} s"
            elif phase == "key exchange" and text.startswith(_NO_BANNER):
                # paramiko's words for "that port does not speak SSH" (closed or silent).
                text = f"{endpoint} sent no SSH banner (is an SSH server listening there?)"
            error = f"SSH {phase} failed: {text}."
        finally:
            if transport is not None:
                transport.close()
            sock.close()
        metrics["total_ms"] = (time.perf_counter_ns() - begin) / 1e6
        rec.emit(session_event(metrics, error))  # after the clock: the whole run is one attempt
        status = Status.FAILED if error else Status.OK
        exit_code = metrics.get("command_exit_code")
        if not error and exit_code:
            status, error = Status.DEGRADED, f"The command exited with status {exit_code}."
        return rec.finish(status=status, metrics=metrics, error=error, info=info)

    @staticmethod
    def _command(
        transport: paramiko.Transport, options: SshOptions, metrics: dict[str, MetricValue]
    ) -> None:
        """Run the command; time from exec request to exit status (ms), output size, code."""
        chan = transport.open_session(timeout=options.timeout_s)
        try:
            chan.settimeout(options.timeout_s)
            start = time.perf_counter_ns()
            chan.exec_command(options.command or "")
            size = 0
            while (chunk := chan.recv(65_536)) and size < _MAX_OUTPUT:
                size += len(chunk)
            code = chan.recv_exit_status()
            metrics["command_ms"] = (time.perf_counter_ns() - start) / 1e6
            metrics["command_output_bytes"] = size
            metrics["command_exit_code"] = code
        finally:
            chan.close()
