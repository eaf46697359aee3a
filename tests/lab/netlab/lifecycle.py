"""Lab lifetimes across the process: stale clean-up, and teardown at exit or on a signal."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import tempfile
import weakref
from pathlib import Path
from types import FrameType
from typing import Protocol

from tests.lab.netlab.ns import NETNS_DIR, Namespace

PREFIX = "wpl"
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-[0-9a-f]+-")
_DIR_RE = re.compile(rf"^{PREFIX}-(\d+)-[0-9a-f]+(-\w+)?$")  # -suffix: older mkdtemp names


class Closable(Protocol):
    """What the registry needs of a lab."""

    def close(self) -> None:
        """Tear everything down (idempotent)."""


LIVE: weakref.WeakSet[Closable] = weakref.WeakSet()  # labs built and not yet closed


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False  # still running: someone else's live lab


def cleanup_stale() -> list[str]:
    """Delete lab namespaces and temp dirs left by processes that no longer exist (kill -9)."""
    removed: list[str] = []
    if NETNS_DIR.is_dir():
        for entry in sorted(NETNS_DIR.iterdir()):
            match = _NAME_RE.match(entry.name)
            if match and _dead(int(match.group(1))):
                Namespace(entry.name).delete()
                removed.append(entry.name)
    for entry in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*"):
        match = _DIR_RE.match(entry.name)
        if match and entry.is_dir() and _dead(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    return removed


def leftovers(pid: int) -> list[str]:
    """Namespaces and temp dirs of labs made by process ``pid`` that still exist."""
    mine = f"{PREFIX}-{pid}-"
    found = (
        [e.name for e in NETNS_DIR.iterdir() if e.name.startswith(mine)]
        if NETNS_DIR.is_dir()
        else []
    )
    found += [str(e) for e in Path(tempfile.gettempdir()).glob(f"{mine}*")]
    return sorted(found)


def close_all() -> None:
    """Tear down every lab still open in this process (atexit and signal handlers use this)."""
    for lab in list(LIVE):
        with contextlib.suppress(Exception):
            lab.close()


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit and SIGINT into KeyboardInterrupt, so ``finally``
    blocks and atexit tear labs down.

    SIGINT is set even where it came in ignored: a shell starts a background job (``cmd &``,
    as the suite runs the lab) with SIGINT ignored, and Python then installs no handler — a lab
    in such a process would ignore Ctrl-C and a SIGINT meant to stop it.
    """

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


atexit.register(close_all)
