"""Stopping what a test started: the library's terminate-then-kill, and a whole tree at once."""

from __future__ import annotations

import contextlib
import subprocess
from typing import Any

import psutil

from waddleperf_common.procs import REAP_S, stop, stop_all

__all__ = ["PREFORK", "kill_tree", "stop", "stop_all"]

#: ``python -c PREFORK PORT``: a master and two forked workers sharing one listening socket on
#: 127.0.0.1:PORT, as gunicorn's do; all sleep until killed (two minutes at most).
PREFORK = (
    "import os, socket, sys, time\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen()\n"
    "for _ in range(2):\n"
    "    if os.fork() == 0:\n"
    "        time.sleep(120)\n"
    "        os._exit(0)\n"
    "time.sleep(120)\n"
)


def kill_tree(proc: subprocess.Popen[Any], reap_s: float = REAP_S) -> int:
    """SIGKILL ``proc`` and every descendant it has now, then reap ``proc``; its exit code.

    For children that fork workers of their own (a pre-fork server, multiprocessing), whose
    workers would otherwise be left to init when only the parent is killed.
    """
    kids: list[psutil.Process] = []
    if proc.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            kids = psutil.Process(proc.pid).children(recursive=True)
    for kid in kids:
        with contextlib.suppress(psutil.NoSuchProcess):
            kid.kill()
    if proc.poll() is None:
        proc.kill()
    return proc.wait(timeout=reap_s)
