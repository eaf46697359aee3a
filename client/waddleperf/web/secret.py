"""The UI's session secret: generated on first start, kept in the data directory, mode 0600.

The secret signs and encrypts every session cookie; whoever reads it can forge a login. It is
created with ``O_EXCL`` and mode 0600 from the start (never a window where it is readable),
and a secret file that others can read is refused at start, with the command that fixes it.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

SECRET_FILE = "session.secret"  # noqa: S105 (a file name)


class SecretError(ValueError):
    """The secret file cannot be used; one line saying why and what to do."""


def session_secret(data_dir: Path) -> str:
    """The secret in ``data_dir`` (64 hex digits), created on first use."""
    path = data_dir.resolve() / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return _read(path)


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretError(f"{path}: mode {mode:04o} lets others read the session secret; "
                          f"run: chmod 600 {path}")  # fmt: skip
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 32:
        raise SecretError(f"{path}: too short to be a session secret; delete it to make a new "
                          "one (every user logs in again)")  # fmt: skip
    return text
