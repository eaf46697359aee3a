"""A command run with its stdout on a pseudo-terminal, as a person runs it (isatty is true).

The test reads what the command prints as it prints it, so it can wait for a line and then
interrupt the command (SIGINT to that process only); stderr stays a pipe of its own, so a
traceback cannot hide in the terminal output. The process is always reaped, killed if it
outlives the deadline.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass
class TerminalRun:
    """What the command printed on the terminal (``\\r\\n`` made ``\\n``) and how it ended."""

    output: str
    stderr: str
    returncode: int
    interrupted: bool  # SIGINT was sent

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


def run_on_terminal(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    interrupt_when: Callable[[str], bool] | None = None,
    timeout: float = 60.0,
    columns: int = 120,
) -> TerminalRun:
    """Run ``argv`` with stdout on a pty ``columns`` wide; send SIGINT once
    ``interrupt_when(output so far)`` is true. Fails the deadline by killing the process."""
    master, slave = pty.openpty()
    full_env = {**os.environ, **(env or {}), "COLUMNS": str(columns), "TERM": "xterm"}
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, env=full_env
    )
    os.close(slave)
    chunks: list[bytes] = []
    interrupted = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if interrupt_when is not None and not interrupted and interrupt_when(_text(chunks)):
                proc.send_signal(signal.SIGINT)  # only the process this helper started
                interrupted = True
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None and not _pending(master):
                    break
                continue
            try:
                data = os.read(master, 65_536)
            except OSError:  # EIO: the command closed the terminal (it ended)
                break
            if not data:
                break
            chunks.append(data)
        try:
            returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            returncode = -1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        os.close(master)
    return TerminalRun(_text(chunks), stderr, returncode, interrupted)


def _pending(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def _text(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
