"""The pool's size from memory and file descriptors (a cgroup directory faked on disk)."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from waddleperf_server.config import HttpConfig
from waddleperf_server.http import capacity
from waddleperf_server.http.pool import FD_RESERVE


def test_a_cgroup_limit_caps_the_available_memory(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "memory.current").write_text("73741824\n")
    assert capacity.available_memory_bytes(tmp_path) == 1_000_000_000
    (tmp_path / "memory.max").write_text("max\n")
    assert capacity.available_memory_bytes(tmp_path) > 0  # the system's figure
    assert capacity.available_memory_bytes(tmp_path / "none") > 0


def test_configured_size_is_kept_within_the_file_descriptors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = HttpConfig(max_connections=1000, max_lingering_refusals=100)
    assert capacity.pool_capacity(cfg, fd_limit=10_000) == 1000
    assert capacity.pool_capacity(cfg, fd_limit=1000) == 1000 - FD_RESERVE - 100
    assert "more than the file descriptors allow" in caplog.text


def test_default_size_comes_from_memory_and_file_descriptors() -> None:
    size = capacity.pool_capacity(HttpConfig(), fd_limit=4096)
    assert 1 <= size <= 4096 - FD_RESERVE - HttpConfig().max_lingering_refusals


def test_the_soft_fd_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if soft == hard and hard != resource.RLIM_INFINITY:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(256, hard // 2), hard))
        now = capacity.raise_fd_limit()
        assert now == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert hard == resource.RLIM_INFINITY or now == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
