"""``waddleperf ui`` as a process for the tests that need the real thing (MariaDB, the
browser): started on a free loopback port, waited for, stopped with SIGINT (as Ctrl-C)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import wait_until
from waddleperf.localstack import free_port

WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
#: The password of every UI test's users.
PASSWORD = "Correct-Horse-Battery-9!"


def ui_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without the caller's WADDLEPERF_ settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEPERF_")}
    return {**env, **(extra or {})}


def create_admin(cwd: Path, email: str, *args: str, password: str = PASSWORD,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``waddleperf ui create-admin --email EMAIL ARGS`` with the password in the environment."""
    return subprocess.run([WADDLEPERF, "ui", "create-admin", "--email", email, *args],
                          env=ui_env({"WADDLEPERF_UI_ADMIN_PASSWORD": password}), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@dataclass
class UiProcess:
    """A running UI: its process, base URL and log."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 15) -> int:
        """SIGINT, as Ctrl-C; its exit code (killed after ``timeout``: -9)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def start_ui(cwd: Path, *args: str, env: dict[str, str] | None = None,
             ready_timeout: float = 60) -> UiProcess:  # fmt: skip
    """``waddleperf ui --port FREE ARGS`` in ``cwd``, once it answers."""
    port = free_port()
    log = cwd / f"ui-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([WADDLEPERF, "ui", "--port", str(port), *args], cwd=cwd,
                                env=ui_env(env), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip
    ui = UiProcess(proc, f"http://127.0.0.1:{port}", log)
    if not wait_until(lambda: proc.poll() is not None or "WaddlePerf UI on" in ui.text(),
                      ready_timeout) or proc.poll() is not None:  # fmt: skip
        ui.stop()
        raise RuntimeError(f"waddleperf ui did not start: {ui.text()[-2000:]}")
    return ui
