"""Accuracy: the ssh probe against the real sshd in the lab — TCP connect within the promised
tolerance of the injected RTT, and key exchange, authentication and the command round trip
costing at least the round trips the protocol needs on that path."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import pytest

from tests.lab.accuracy import ATTEMPTS, hold_ms, path_ms, reset_holds, tolerance_ms
from tests.lab.netlab import Lab
from tests.lab.netlab.refstats import second_chance
from tests.lab.netlab.services import SshServer
from tests.support.metrics import figure
from waddleperf.probes.base import run_probe
from waddleperf.results.model import Result, Status

pytestmark = pytest.mark.lab
ClientCall = Callable[..., Any]

UP_MS, DOWN_MS = 15.0, 5.0
RTT_MS = UP_MS + DOWN_MS
RUNS = 3
PHASES = ("connect_ms", "kex_ms", "auth_ms", "command_ms", "total_ms")


def ssh(client_call: ClientCall, srv: SshServer, host: str) -> Result:
    """One ssh probe run (key auth, known_hosts checked, ``echo wpl``) from the client ns."""
    options = {"target": host, "port": srv.port, "user": srv.user,
               "key_file": str(srv.key_path), "known_hosts": str(srv.known_hosts),
               "command": "echo wpl", "timeout_s": 10}  # fmt: skip
    result: Result = client_call(run_probe, "ssh", options)
    assert result.status is Status.OK, result.error
    assert result.info["host_key_checked"] is True
    assert result.metrics["command_exit_code"] == 0
    assert result.metrics["command_output_bytes"] == len("wpl\n")
    return result


def medians(results: list[Result]) -> dict[str, float]:
    """Each phase's median over several runs (ms): sshd's CPU time varies run to run."""
    return {p: statistics.median(figure(r.metrics, p) for r in results) for p in PHASES}


def test_phases_against_injected_rtt(
    lab: Lab, ssh_server: SshServer, client_call: ClientCall
) -> None:
    lab.start_delayer(1)
    host6 = ssh_server.host6
    assert host6 is not None
    tol = tolerance_ms(RTT_MS)

    def measure() -> list[str]:
        """What misses the promise in one round of runs, its baseline measured anew."""
        lab.set_link(0, "both", delay_ms=0)
        reset_holds(lab)
        base = medians([ssh(client_call, ssh_server, ssh_server.host) for _ in range(RUNS)])
        base_held = hold_ms(lab, "p50")
        lab.set_link(0, "up", delay_ms=UP_MS)
        lab.set_link(0, "down", delay_ms=DOWN_MS)
        reset_holds(lab)
        runs = [ssh(client_call, ssh_server, ssh_server.host) for _ in range(RUNS)]
        runs.append(ssh(client_call, ssh_server, host6))
        delayed = medians(runs)
        held = hold_ms(lab, "p50")  # one round trip's time in the delayer, as it really was
        for p in PHASES:
            each = " ".join(f"{figure(r.metrics, p):.2f}" for r in runs)
            extra = (delayed[p] - base[p]) / RTT_MS
            print(f"ssh {p}: base {base[p]:.2f} delayed {delayed[p]:.2f} (+{extra:.2f} RTT)"
                  f" runs {each}")  # fmt: skip
        for r in runs:
            m = {p: figure(r.metrics, p) for p in PHASES}
            # Lower bounds every run must respect: the TCP handshake is one round trip; the
            # server's KEXINIT comes back after the client's banner (1 RTT), the ECDH reply
            # after the client's ECDH init (1 RTT); authentication is a service request and a
            # signed userauth request (2 RTT); the command's exit status comes back at least
            # one RTT after the exec request.
            assert m["connect_ms"] >= RTT_MS, m
            assert m["kex_ms"] >= 2 * RTT_MS, m
            assert m["auth_ms"] >= 2 * RTT_MS, m
            assert m["command_ms"] >= RTT_MS, m
            assert m["total_ms"] >= sum(m[p] for p in PHASES[:-1]), m
        problems: list[str] = []
        # The TCP handshake is the figure we promise to hit.
        connect_err = delayed["connect_ms"] - (path_ms(base["connect_ms"], base_held) + held)
        if abs(connect_err) > tol:
            problems.append(f"median connect off by {connect_err:+.3f} ms (±{tol})")
        # Authentication is CPU-light (one ed25519 signature): its two round trips and
        # scheduling noise, not a 40 ms delayed-ACK stall per small write (Nagle).
        auth_extra = delayed["auth_ms"] - base["auth_ms"]
        if abs(auth_extra - 2 * (held - base_held)) > 10.0:
            problems.append(f"auth costs {auth_extra:.2f} ms more on the path, not 2 RTT ± 10")
        return problems

    # Shared cores: one stalled wake-up moves a single run's connect by milliseconds, so the
    # promise is checked on medians; a round that misses is measured again (baseline included),
    # every run printed.
    rounds = second_chance(measure, lambda problems: not problems, ATTEMPTS)
    assert not rounds[-1], rounds
