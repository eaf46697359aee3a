"""``waddleperf ui`` and ``ui create-admin`` as a user runs them: clear errors and exit codes,
never a traceback; the session secret made 0600 and a readable one refused; a taken port."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.support.ui_process import WADDLEPERF, create_admin, start_ui, ui_env


def _ui(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WADDLEPERF, "ui", *args], cwd=cwd, env=ui_env(env), text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip


def test_check_config(tmp_path: Path) -> None:
    good = _ui(tmp_path, "--check-config", "--results", "s3://bucket/prefix")
    assert (
        good.returncode == 0 and "config OK" in good.stdout and "s3://bucket/prefix" in good.stdout
    )
    assert not (tmp_path / "waddleperf-ui").exists()  # nothing made
    bad = tmp_path / "bad.yml"
    bad.write_text("ui: {allowed_networks: [not-a-network]}\n")
    refused = _ui(tmp_path, "--config", str(bad), "--check-config")
    assert refused.returncode == 2 and "ui.allowed_networks" in refused.stderr
    env = _ui(tmp_path, "--check-config", env={"WADDLEPERF_UI_DB_URI": "oracle://x"})
    assert env.returncode == 2 and "WADDLEPERF_UI_DB_URI" in env.stderr
    for done in (refused, env):
        assert "Traceback" not in done.stderr


def test_create_admin_needs_a_password_and_a_good_one(tmp_path: Path) -> None:
    none = _ui(tmp_path, "create-admin", "--email", "a@example.com")
    assert none.returncode == 2 and "WADDLEPERF_UI_ADMIN_PASSWORD" in none.stderr
    weak = create_admin(tmp_path, "a@example.com", password="abc")
    assert weak.returncode == 2 and "too simple" in weak.stderr
    bad = create_admin(tmp_path, "not-an-email")
    assert bad.returncode == 2 and "email" in bad.stderr
    made = create_admin(tmp_path, "a@example.com")
    assert made.returncode == 0, made.stderr
    for done in (none, weak, bad):
        assert "Traceback" not in done.stderr


def test_the_secret_is_private_and_a_readable_one_is_refused(tmp_path: Path) -> None:
    ui = start_ui(tmp_path)
    try:
        secret = tmp_path / "waddleperf-ui" / "session.secret"
        assert secret.stat().st_mode & 0o777 == 0o600
    finally:
        assert ui.stop() == 0
    os.chmod(secret, 0o644)
    refused = _ui(tmp_path, "--port", "0", "--host", "127.0.0.1")
    assert refused.returncode == 2  # port 0: the configuration is refused first
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = _ui(tmp_path, "--port", str(port))
    assert done.returncode == 1 and f"chmod 600 {secret}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_port_is_said_plainly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _ui(tmp_path, "--port", str(port))
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
