"""Resource use of the server process and of its target processes, read with psutil.

Independent of Flask: ``/stats`` only serialises :meth:`ProcessSampler.snapshot`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from waddleperf_server.config import StatsTarget

MB = 1024 * 1024
Row = dict[str, Any]  # one process's raw reading


class TargetNotFound(LookupError):
    """A target's process cannot be found; the message says how it was looked for."""


def _mb(value: float) -> float:
    return round(value / MB, 3)


def _sum_or_none(values: Sequence[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


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
    master lets the target's tree cover every worker.
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


def read_pid_file(path: Path) -> int:
    """The pid written in ``path`` (first line, surrounding space ignored)."""
    try:
        text = path.read_text().strip().splitlines()
    except OSError as exc:
        raise TargetNotFound(f"cannot read pid file {path}: {exc.strerror}") from None
    if not text or not text[0].strip().isdigit():
        raise TargetNotFound(f"pid file {path} holds no pid")
    return int(text[0].strip())


class ProcessSampler:
    """Samples process trees; keeps one psutil.Process per pid so CPU deltas are real.

    psutil measures a process's CPU between two calls on the *same* Process object, so a
    fresh object per request would always read 0. A process seen for the first time is
    primed and reports null CPU until the next snapshot.
    """

    def __init__(self) -> None:
        self._cache: dict[int, psutil.Process] = {}
        self.cpu_count = psutil.cpu_count() or 1
        # Prime the system-wide counters too, so the first snapshot has an interval.
        psutil.cpu_percent(None)
        psutil.cpu_percent(None, percpu=True)

    def _process(self, pid: int) -> tuple[psutil.Process, bool]:
        """The cached Process for ``pid`` and whether its CPU counter has a real interval."""
        proc = self._cache.get(pid)
        if proc is not None and proc.is_running():
            return proc, True
        proc = psutil.Process(pid)
        proc.cpu_percent(None)
        self._cache[pid] = proc
        return proc, False

    def resolve(self, target: StatsTarget) -> list[int]:
        """The root pids of ``target``, looked up afresh (processes come and go)."""
        if target.pid_file is not None:
            return [read_pid_file(target.pid_file)]
        if target.port is not None:
            pids = sorted(
                {
                    c.pid
                    for c in psutil.net_connections("inet")
                    if c.status == psutil.CONN_LISTEN
                    and c.laddr
                    and c.laddr.port == target.port
                    and c.pid is not None
                }
            )
            if not pids:
                raise TargetNotFound(f"no process listens on port {target.port}")
            return sorted({_listener_root(pid, target.port) for pid in pids})
        if target.process_name is not None:
            return self._by_name(target.process_name)
        raise TargetNotFound("target names no pid_file, process_name or port")

    @staticmethod
    def _by_name(name: str) -> list[int]:
        matches: dict[int, int] = {}
        for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
            cmdline = proc.info.get("cmdline") or []
            argv0 = os.path.basename(cmdline[0]) if cmdline else ""
            if proc.info.get("name") == name or argv0 == name:
                matches[proc.pid] = proc.info.get("ppid") or 0
        # Children of a match are counted through their parent's tree, not as roots.
        roots = sorted(pid for pid, ppid in matches.items() if ppid not in matches)
        if not roots:
            raise TargetNotFound(f"no process named {name!r}")
        return roots

    def tree(self, roots: Iterable[int], memo: dict[int, Row | None]) -> dict[str, Any]:
        """Summed usage of ``roots`` and all their descendants (e.g. gunicorn workers).

        CPU: ``cpu_raw_pct`` is psutil's figure (100 = one core busy), ``cpu_pct`` the same
        divided by the core count (100 = the whole machine); null until an interval exists.
        ``memo`` holds this snapshot's per-process readings: a process in two trees is read
        once, since a second cpu_percent() call right after the first would read ~0.
        """
        procs: dict[int, psutil.Process] = {}
        for pid in roots:
            root = psutil.Process(pid)
            procs[pid] = root
            try:
                for child in root.children(recursive=True):
                    procs[child.pid] = child
            except psutil.NoSuchProcess:
                continue
        rows = [row for pid in sorted(procs) if (row := self._row(pid, memo)) is not None]
        cpu = [r["cpu"] for r in rows if r["cpu"] is not None]
        raw = round(sum(cpu), 2) if cpu else None
        return {
            "pids": [r["pid"] for r in rows],
            "process_count": len(rows),
            "cpu_pct": None if raw is None else round(raw / self.cpu_count, 2),
            "cpu_raw_pct": raw,
            "rss_mb": _mb(sum(r["rss"] for r in rows)),
            "uss_mb": None if (uss := _sum_or_none([r["uss"] for r in rows])) is None else _mb(uss),
            "threads": sum(r["threads"] for r in rows),
            "num_fds": sum(r["fds"] for r in rows),
            "io": _sum_fields([r["io"] for r in rows]),
            "ctx_switches": _sum_fields([r["ctx"] for r in rows]),
        }

    def _row(self, pid: int, memo: dict[int, Row | None]) -> Row | None:
        if pid not in memo:
            memo[pid] = self._read(pid)
        return memo[pid]

    def _read(self, pid: int) -> Row | None:
        try:
            proc, primed = self._process(pid)
            with proc.oneshot():
                cpu = proc.cpu_percent(None) if primed else None
                try:
                    uss: float | None = proc.memory_full_info().uss
                except psutil.AccessDenied:  # smaps needs privileges for other users' processes
                    uss = None
                try:
                    io: dict[str, int] | None = proc.io_counters()._asdict()
                except (psutil.AccessDenied, AttributeError):
                    io = None
                ctx = proc.num_ctx_switches()
                return {
                    "pid": pid,
                    "cpu": cpu,
                    "rss": proc.memory_info().rss,
                    "uss": uss,
                    "threads": proc.num_threads(),
                    "fds": proc.num_fds(),
                    "io": io,
                    "ctx": {"voluntary": ctx.voluntary, "involuntary": ctx.involuntary},
                }
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None

    def snapshot(
        self, targets: Sequence[StatsTarget], server_pid: int | None = None
    ) -> dict[str, Any]:
        """Everything ``/stats`` reports: system, the server's process tree (rooted at
        ``server_pid``, default this process), each target."""
        memo: dict[int, Row | None] = {}
        out_targets = []
        for target in targets:
            entry: dict[str, Any] = {"name": target.name}
            try:
                entry.update(found=True, error=None, **self.tree(self.resolve(target), memo))
            except (TargetNotFound, psutil.Error) as exc:
                entry.update(found=False, error=str(exc) or type(exc).__name__)
            out_targets.append(entry)
        result = {
            "timestamp": rfc3339_now(),
            "system": system_usage(self.cpu_count),
            "server": self.tree([server_pid or os.getpid()], memo),
            "targets": out_targets,
        }
        # Forget processes that are gone or no longer asked about, so the cache stays small.
        for pid in set(self._cache) - set(memo):
            del self._cache[pid]
        return result


def rfc3339_now() -> str:
    """The current UTC time as RFC 3339 with milliseconds (``2026-01-02T03:04:05.678Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sum_fields(items: Sequence[dict[str, int] | None]) -> dict[str, int] | None:
    present = [i for i in items if i is not None]
    if not present:
        return None
    keys = present[0].keys()
    return {k: sum(i.get(k, 0) for i in present) for k in keys}


def system_usage(cpu_count: int) -> dict[str, Any]:
    """Machine-wide CPU (percent since the previous call), memory, network counters, load."""
    mem = psutil.virtual_memory()
    net = psutil.net_io_counters()
    return {
        "cpu_count": cpu_count,
        "cpu_pct": psutil.cpu_percent(None),
        "per_cpu_pct": psutil.cpu_percent(None, percpu=True),
        "memory": {
            "total_mb": _mb(mem.total),
            "available_mb": _mb(mem.available),
            "used_pct": mem.percent,
        },
        "net_io": net._asdict() if net is not None else None,
        "load_avg": list(os.getloadavg()),
    }
