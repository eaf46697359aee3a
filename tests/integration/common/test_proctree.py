"""The process-tree reader on real processes: a pre-fork listener's whole tree, gone pids."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from tests.support.net import free_port, wait_until
from tests.support.procs import PREFORK, kill_tree
from waddleperf_common.proctree import TreeReader, listening_roots, members, total


def test_prefork_listener_is_one_tree() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", PREFORK, str(port)])
    try:
        assert wait_until(lambda: len(psutil.Process(proc.pid).children()) == 2, 30)
        assert wait_until(lambda: listening_roots(port) == [proc.pid], 30), listening_roots(port)
        tree = members(proc.pid)
        assert tree[0] == proc.pid and len(tree) == 3
        reader = TreeReader()
        assert total(reader.read_all(tree)).count == 3
        assert set(reader.cached) == set(tree)
    finally:
        kill_tree(proc)
    assert listening_roots(port) == []


def test_gone_process() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    assert TreeReader().read(proc.pid) is None
    with pytest.raises(psutil.NoSuchProcess):
        members(proc.pid)
