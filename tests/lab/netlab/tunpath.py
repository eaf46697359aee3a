"""Puts a router's forwarded traffic through the TUN delayer and talks to the delayer.

In the router, ``ip rule iif eth-c lookup 100`` (client side in) and ``iif eth-s lookup 101``
send forwarded packets to tables whose only route is the delayer's TUN device; what the delayer
writes back arrives on that device, matches no rule, and is forwarded by the main table.
Packets addressed to the router itself are delivered by the local table first and never delayed.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lab.netlab.delaysched import recv_line
from tests.lab.netlab.ns import Namespace

DELAYER = Path(__file__).resolve().with_name("delayer.py")
TUN_UP = "dly-up"  # client → server
TUN_DOWN = "dly-dn"  # server → client
TABLES = {TUN_UP: ("eth-c", "100"), TUN_DOWN: ("eth-s", "101")}
RULE_PREF = "1000"


_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlab-spawner")


class DelayerDied(RuntimeError):
    """The delayer process of a router is gone; traffic through that router is broken."""


def control_request(path: Path, req: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """One request over a delayer's control socket; the reply, or ValueError if refused."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps(req).encode() + b"\n")
        raw = recv_line(sock)
    reply: dict[str, Any] = json.loads(raw)
    if not reply.get("ok"):
        raise ValueError(f"delayer refused {req}: {reply.get('error')}")
    return reply


@dataclass
class DelayerHandle:
    """A running delayer process in one router namespace."""

    ns: Namespace
    proc: subprocess.Popen[bytes]
    control: Path
    log: Path

    @classmethod
    def start(cls, ns: Namespace, workdir: Path, seed: int | None = None) -> DelayerHandle:
        """Start the delayer in ``ns``, wait for ``ready``, then steer forwarding through it."""
        control = workdir / f"{ns.name}.ctl"
        log = workdir / f"{ns.name}.delayer.log"
        argv = [
            sys.executable,
            str(DELAYER),
            "--parent-pid",
            str(os.getpid()),
            "--control",
            str(control),
            "--tun",
            TUN_UP,
            "--tun",
            TUN_DOWN,
        ]
        if seed is not None:
            argv += ["--seed", str(seed)]
        with log.open("wb") as err:
            # PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so the fork
            # happens on one long-lived thread: a delayer started from a short-lived helper
            # thread (client_call, a thread pool) must not die with that thread.
            proc = _SPAWNER.submit(ns.popen, argv, subprocess.PIPE, err).result()
        handle = cls(ns, proc, control, log)
        handle._wait_ready(10.0)
        for tun, (iif, table) in TABLES.items():
            # Largest MTU: the link after the TUN device is what decides the path MTU (and sends
            # "fragmentation needed"), so the delayer never changes what PMTU discovery finds.
            ns.run(["ip", "link", "set", tun, "up", "mtu", "65535", "txqueuelen", "10000"])
            for fam in ("-4", "-6"):
                ns.run(["ip", fam, "route", "replace", "default", "dev", tun, "table", table])
                # Fail closed: if the delayer dies its device and route vanish, and without this
                # the lookup would fall through to the main table and forward undelayed.
                ns.run(
                    [
                        "ip",
                        fam,
                        "route",
                        "replace",
                        "unreachable",
                        "default",
                        "table",
                        table,
                        "metric",
                        "65535",
                    ]
                )
                ns.run(["ip", fam, "rule", "add", "iif", iif, "lookup", table, "pref", RULE_PREF])
        return handle

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.proc.kill()
            self.proc.wait(5)
            raise DelayerDied(f"delayer in {self.ns.name} did not start: {self.stderr()}")

    def stderr(self) -> str:
        """The last lines the delayer wrote to stderr (its traceback, if it crashed)."""
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def check(self) -> None:
        """Raise DelayerDied, with the exit code and stderr, if the process is gone."""
        if not self.alive():
            raise DelayerDied(
                f"delayer in {self.ns.name} exited with code {self.proc.returncode}; "
                f"traffic through this router is broken. stderr: {self.stderr()!r}"
            )

    def request(self, req: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send one control request and return the reply (raises on error replies)."""
        self.check()
        return control_request(self.control, req, timeout)

    def set_stages(self, tun: str, stages: list[dict[str, float]]) -> None:
        """Replace the stages of one direction (takes effect for the next packet read)."""
        self.request({"cmd": "set", "tun": tun, "stages": stages})

    def stats(self, reset: bool = False) -> dict[str, Any]:
        """Per-device counters and the delayer's own lateness (ms) against release times."""
        return self.request({"cmd": "stats", "reset": reset})

    def stop(self) -> None:
        """Stop the process (the TUN devices and their routes vanish with it)."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
