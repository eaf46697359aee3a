"""Lab lifetimes across the process: stale clean-up, and teardown at exit or on a signal."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import weakref
from types import FrameType
from typing import Protocol

from tests.lab.netlab.ns import NETNS_DIR, Namespace

PREFIX = "wpl"
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-[0-9a-f]+-")


class Closable(Protocol):
    """What the registry needs of a lab."""

    def close(self) -> None:
        """Tear everything down (idempotent)."""


LIVE: weakref.WeakSet[Closable] = weakref.WeakSet()  # labs built and not yet closed


def cleanup_stale() -> list[str]:
    """Delete lab namespaces left by processes that no longer exist (e.g. a kill -9'd run)."""
    removed: list[str] = []
    if not NETNS_DIR.is_dir():
        return removed
    for entry in sorted(NETNS_DIR.iterdir()):
        match = _NAME_RE.match(entry.name)
        if not match:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
            continue  # still running: someone else's live lab
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        Namespace(entry.name).delete()
        removed.append(entry.name)
    return removed


def close_all() -> None:
    """Tear down every lab still open in this process (atexit and signal handlers use this)."""
    for lab in list(LIVE):
        with contextlib.suppress(Exception):
            lab.close()


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so ``finally`` blocks and atexit tear labs down."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


atexit.register(close_all)
