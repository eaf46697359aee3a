"""One network namespace: run commands in it, start processes in it, call Python in it, delete it.

Every command is an argument list handed to ``ip netns exec NAME``; nothing goes through a shell.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
REPO_ROOT = Path(__file__).resolve().parents[3]


class LabCommandError(RuntimeError):
    """A command inside a lab namespace failed; the message carries its argv and stderr."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def run_host(argv: Sequence[str], check: bool = True, timeout: float = 30.0) -> str:
    """Run a command in the current (root) namespace; return its stdout."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabCommandError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


class Namespace:
    """A named network namespace under /run/netns and the processes the lab started in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.procs: list[subprocess.Popen[bytes]] = []
        # Called before and after each command: the lab raises here when a delayer has died, so
        # a test fails with that cause instead of with the symptom (loss, timeouts).
        self.watchdog: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    def create(self) -> None:
        """Create the namespace and bring its loopback up."""
        run_host(["ip", "netns", "add", self.name])
        self.run(["ip", "link", "set", "lo", "up"])

    def exists(self) -> bool:
        """True while /run/netns/NAME is there."""
        return (NETNS_DIR / self.name).exists()

    def argv(self, argv: Sequence[str]) -> list[str]:
        """The argument list that runs ``argv`` inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self,
        argv: Sequence[str],
        check: bool = True,
        timeout: float = 60.0,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the namespace and wait; raise LabCommandError on failure if ``check``."""
        if self.watchdog:
            self.watchdog()
        proc = subprocess.run(
            self.argv(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
        if self.watchdog:
            self.watchdog()
        if check and proc.returncode != 0:
            raise LabCommandError(
                f"[{self.name}] {' '.join(argv)} exited {proc.returncode}: "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
            )
        return proc

    def python(
        self, code: str, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -c code args…`` (this venv's interpreter, repo root as cwd) in the ns."""
        return self.run([sys.executable, "-c", code, *args], check, timeout, cwd=REPO_ROOT)

    def popen(
        self,
        argv: Sequence[str],
        stdout: int | object = subprocess.DEVNULL,
        stderr: int | object = subprocess.DEVNULL,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the namespace; the lab kills it at teardown."""
        # ip netns exec execs the program, so the Popen's pid is the program itself and a
        # signal to it reaches the tool, not a wrapper.
        proc: subprocess.Popen[bytes] = subprocess.Popen(
            self.argv(argv),
            stdout=stdout,  # type: ignore[arg-type]
            stderr=stderr,  # type: ignore[arg-type]
            stdin=subprocess.DEVNULL,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
        with self._lock:
            self.procs.append(proc)
        return proc

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn`` in a thread that lives inside this namespace and return what it returns.

        setns(2) on a network namespace changes only the calling thread, so sockets the function
        opens (and processes or threads it starts) are in the lab while the test stays outside.
        Exceptions are re-raised in the caller.
        """
        box: dict[str, object] = {}

        def body() -> None:
            try:
                fd = os.open(NETNS_DIR / self.name, os.O_RDONLY)
                try:
                    if _libc().setns(fd, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise OSError(err, f"setns({self.name}): {os.strerror(err)}")
                finally:
                    os.close(fd)
                box["result"] = fn(*args, **kwargs)
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=body, name=f"netns-{self.name}", daemon=True)
        thread.start()
        thread.join()
        if self.watchdog:
            self.watchdog()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["result"]  # type: ignore[return-value]

    def pids(self) -> list[int]:
        """Every process whose network namespace is this one (per ``ip netns pids``)."""
        if not self.exists():
            return []
        out = run_host(["ip", "netns", "pids", self.name], check=False)
        return [int(tok) for tok in out.split() if tok.isdigit()]

    def kill_all(self, grace: float = 2.0) -> None:
        """Stop the processes we started (TERM, then KILL), then anything else left inside."""
        with self._lock:
            procs, self.procs = self.procs, []
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        # Whatever a tool forked (dnsmasq helpers, iperf3 children) is found through the
        # namespace itself, so nothing outlives the lab even if we never saw its pid.
        for _ in range(3):
            pids = [p for p in self.pids() if p != os.getpid()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def delete(self) -> None:
        """Kill everything inside and delete the namespace (idempotent)."""
        self.kill_all()
        if self.exists():
            run_host(["ip", "netns", "del", self.name], check=False)
