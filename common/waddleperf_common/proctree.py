"""What a process tree uses — CPU, memory, threads, descriptors, I/O — read with psutil.

One reader for the server's ``/stats`` and the client's profiler. psutil measures a process's
CPU between two calls on the *same* ``psutil.Process`` object, so :class:`TreeReader` keeps one
object per pid; a process seen for the first time is primed and reads ``cpu_pct`` None until
the next reading. Needs psutil (the ``server`` and ``load`` extras bring it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import psutil

#: Bytes in a MiB: memory and I/O figures are reported in MiB.
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Usage:
    """What processes use: ``cpu_pct`` is psutil's figure since the previous reading (100 =
    one core busy; None when there is no interval yet), memory and I/O in bytes (I/O and
    context switches cumulative); ``uss_bytes``/``io`` None where the kernel does not tell."""

    cpu_pct: float | None
    rss_bytes: int
    uss_bytes: int | None
    threads: int
    fds: int
    io: dict[str, int] | None
    ctx_voluntary: int
    ctx_involuntary: int


@dataclass(frozen=True, slots=True)
class Reading(Usage):
    """One process now."""

    pid: int


@dataclass(frozen=True, slots=True)
class Totals(Usage):
    """``count`` readings summed: ``cpu_pct`` over the processes that have a figure (None when
    none has), ``uss_bytes`` None unless every process has one, ``io`` field by field over
    those that have it (None when none has)."""

    count: int


def _sum_fields(items: Sequence[Mapping[str, int]]) -> dict[str, int] | None:
    if not items:
        return None
    return {key: sum(item.get(key, 0) for item in items) for key in items[0]}


def total(readings: Sequence[Reading]) -> Totals:
    """The sums of ``readings`` (pure)."""
    cpu = [r.cpu_pct for r in readings if r.cpu_pct is not None]
    uss = [r.uss_bytes for r in readings if r.uss_bytes is not None]
    return Totals(
        count=len(readings),
        cpu_pct=sum(cpu) if cpu else None,
        rss_bytes=sum(r.rss_bytes for r in readings),
        uss_bytes=sum(uss) if readings and len(uss) == len(readings) else None,
        threads=sum(r.threads for r in readings),
        fds=sum(r.fds for r in readings),
        io=_sum_fields([r.io for r in readings if r.io is not None]),
        ctx_voluntary=sum(r.ctx_voluntary for r in readings),
        ctx_involuntary=sum(r.ctx_involuntary for r in readings),
    )


def members(root: int) -> list[int]:
    """``root`` and every descendant of it now (a pre-fork server's workers, say).

    Raises ``psutil.NoSuchProcess`` when ``root`` is gone; a root that ends while its
    children are listed is still named.
    """
    proc = psutil.Process(root)
    try:
        return [root, *(child.pid for child in proc.children(recursive=True))]
    except psutil.NoSuchProcess:
        return [root]


def _listens_on(proc: psutil.Process, port: int) -> bool:
    try:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
            for c in proc.net_connections("inet")
        )
    except psutil.Error:
        return False


def _listener_root(pid: int, port: int) -> int:
    """The oldest ancestor of ``pid`` that holds the same listening socket.

    A pre-fork server (gunicorn) shares one listening socket between its master and workers,
    and the system-wide connection table names only one arbitrary holder; climbing to the
    master lets the tree cover every worker.
    """
    try:
        proc = psutil.Process(pid)
        while (
            (parent := proc.parent()) is not None and parent.pid > 1 and _listens_on(parent, port)
        ):
            proc = parent
    except psutil.Error:
        return pid
    return proc.pid


def listening_roots(port: int) -> list[int]:
    """The root pids of the processes listening on TCP ``port`` (any address), sorted; [] when
    none does (or none we may see)."""
    pids = {
        c.pid
        for c in psutil.net_connections("inet")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
    }
    return sorted({_listener_root(pid, port) for pid in pids})


def cores() -> int:
    """The machine's logical CPU count (1 when psutil cannot tell)."""
    return psutil.cpu_count() or 1


class TreeReader:
    """Reads processes, keeping one ``psutil.Process`` per pid so CPU intervals are real."""

    def __init__(self) -> None:
        self._cache: dict[int, psutil.Process] = {}

    @property
    def cached(self) -> Mapping[int, psutil.Process]:
        """The kept process objects by pid (read-only view)."""
        return self._cache

    def _process(self, pid: int) -> tuple[psutil.Process, bool]:
        """The kept Process for ``pid`` and whether its CPU counter has an interval yet."""
        proc = self._cache.get(pid)
        if proc is not None and proc.is_running():
            return proc, True
        proc = psutil.Process(pid)
        proc.cpu_percent(None)
        self._cache[pid] = proc
        return proc, False

    def read(self, pid: int) -> Reading | None:
        """The process ``pid`` now; None when it is gone (or a zombie).

        ``psutil.AccessDenied`` from a figure every process must give (threads, descriptors)
        is raised: the caller decides what an unreadable process means.
        """
        try:
            proc, primed = self._process(pid)
            with proc.oneshot():
                cpu = proc.cpu_percent(None) if primed else None
                try:
                    uss: int | None = proc.memory_full_info().uss
                except psutil.AccessDenied:  # smaps needs privileges for other users' processes
                    uss = None
                try:
                    io: dict[str, int] | None = proc.io_counters()._asdict()
                except (psutil.AccessDenied, AttributeError):
                    io = None
                ctx = proc.num_ctx_switches()
                return Reading(
                    pid=pid,
                    cpu_pct=cpu,
                    rss_bytes=proc.memory_info().rss,
                    uss_bytes=uss,
                    threads=proc.num_threads(),
                    fds=proc.num_fds(),
                    io=io,
                    ctx_voluntary=ctx.voluntary,
                    ctx_involuntary=ctx.involuntary,
                )
        except psutil.NoSuchProcess:  # ZombieProcess is one
            return None

    def read_all(self, pids: Iterable[int]) -> list[Reading]:
        """Readings of those of ``pids`` still there, in the given order."""
        return [r for pid in pids if (r := self.read(pid)) is not None]

    def forget(self, keep: Collection[int]) -> None:
        """Drop the kept objects of every pid not in ``keep``, so the cache stays small."""
        for pid in set(self._cache) - set(keep):
            del self._cache[pid]
