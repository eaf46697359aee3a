"""The session secret: made once with mode 0600, refused when others can read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from waddleperf.web.secret import SECRET_FILE, SecretError, session_secret


def test_made_once_private(tmp_path: Path) -> None:
    first = session_secret(tmp_path / "data")
    path = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64 and int(first, 16) >= 0
    assert session_secret(tmp_path / "data") == first
    assert session_secret(tmp_path / "other") != first


def test_a_readable_secret_is_refused(tmp_path: Path) -> None:
    session_secret(tmp_path)
    path = tmp_path / SECRET_FILE
    os.chmod(path, 0o644)
    with pytest.raises(SecretError, match=f"chmod 600 {path}"):
        session_secret(tmp_path)


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text("abc\n")
    os.chmod(path, 0o600)
    with pytest.raises(SecretError, match="too short"):
        session_secret(tmp_path)
