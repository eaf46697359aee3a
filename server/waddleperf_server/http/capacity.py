"""How many connections the HTTP pool may hold on this machine: the memory it may use (the
available memory, or what is left under the cgroup's limit in a container) divided by the
worst-case cost of one connection, within the file descriptors the process may open."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path

import psutil

from waddleperf_server import logs
from waddleperf_server.config import HttpConfig
from waddleperf_server.http.pool import FD_RESERVE, pool_size

log = logs.get("http")

#: Soft limit asked for when the hard limit is "unlimited".
UNLIMITED_FDS = 1 << 20
CGROUP = Path("/sys/fs/cgroup")


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return the soft limit now
    in force (file descriptors)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_FDS if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return UNLIMITED_FDS if soft == resource.RLIM_INFINITY else int(soft)


def available_memory_bytes(cgroup: Path = CGROUP) -> int:
    """Memory this process may still take (bytes): the system's available memory, or less
    when a cgroup v2 limit (a container's) leaves less."""
    available = int(psutil.virtual_memory().available)
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        current = int((cgroup / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return available
    if not limit.isdigit():  # "max": no limit
        return available
    return max(0, min(available, int(limit) - current))


def pool_capacity(cfg: HttpConfig, fd_limit: int) -> int:
    """The pool's size: ``http.max_connections`` when set (cut to what the file descriptors
    allow, with a warning), otherwise derived from memory and file descriptors."""
    by_fds = max(1, fd_limit - FD_RESERVE - cfg.max_lingering_refusals)
    if cfg.max_connections is None:
        return pool_size(
            available_memory_bytes(),
            cfg.pool_memory_fraction,
            cfg.max_request_head_bytes,
            fd_limit,
            cfg.max_lingering_refusals,
        )
    if cfg.max_connections > by_fds:
        log.warning(
            "http.max_connections=%d is more than the file descriptors allow "
            "(RLIMIT_NOFILE %d); using %d",
            cfg.max_connections,
            fd_limit,
            by_fds,
        )
        return by_fds
    return cfg.max_connections
