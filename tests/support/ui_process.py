"""The real UI for browser tests: ``waddleperf ui`` on a free loopback port with a data
directory of the test's own and an admin created by ``waddleperf ui create-admin`` (the
password passed in the environment, never on the command line), stopped at teardown."""

from __future__ import annotations

import http.client
import secrets
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from waddleperf.localstack import LocalProcess, child_env, free_port, waddleperf_command

HOST = "127.0.0.1"
READY_S = 30.0


@dataclass
class RunningUi:
    """A started UI: where it answers, who may log in, its process and data directory."""

    url: str
    email: str
    password: str
    data_dir: Path
    process: LocalProcess


def create_admin(data_dir: Path, email: str, password: str, env: dict[str, str]) -> None:
    """``waddleperf ui create-admin``; its output in the error when it fails."""
    done = subprocess.run(
        [
            *waddleperf_command(),
            "ui",
            "create-admin",
            "--email",
            email,
            "--data-dir",
            str(data_dir),
        ],
        env=child_env({**env, "WADDLEPERF_UI_ADMIN_PASSWORD": password}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"create-admin failed ({done.returncode}): {done.stderr[-1500:]}")


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status < 500
    except OSError:
        return False
    finally:
        conn.close()


@contextmanager
def running_ui(
    tmp_path: Path, args: Sequence[str] = (), env: dict[str, str] | None = None
) -> Iterator[RunningUi]:
    """The UI started with an admin (random password), ready; stopped when the block ends."""
    data_dir = tmp_path / "ui-data"
    data_dir.mkdir()
    email = "admin@example.test"
    password = "Wp-" + secrets.token_urlsafe(18)  # meets py4web's complexity rules
    create_admin(data_dir, email, password, env or {})
    port = free_port(HOST)
    log_path = tmp_path / "ui.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                *waddleperf_command(),
                "ui",
                "--host",
                HOST,
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                *args,
            ],
            stdout=log,
            stderr=log,
            env=child_env(env),
        )
    process = LocalProcess(proc, log_path)
    try:
        deadline = time.monotonic() + READY_S
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the UI did not start:\n{process.log_tail()}")
            time.sleep(0.1)
        yield RunningUi(f"http://{HOST}:{port}", email, password, data_dir, process)
    finally:
        process.stop()
