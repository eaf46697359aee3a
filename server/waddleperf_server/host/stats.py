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

from waddleperf_common.proctree import (
    MB,
    Reading,
    TreeReader,
    cores,
    listening_roots,
    members,
    total,
)
from waddleperf_server.config import StatsTarget


class TargetNotFound(LookupError):
    """A target's process cannot be found; the message says how it was looked for."""


def _mb(value: float) -> float:
    return round(value / MB, 3)


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
    """Samples process trees through one :class:`TreeReader`, so CPU deltas are real.

    A process seen for the first time is primed and reports null CPU until the next snapshot.
    """

    def __init__(self) -> None:
        self.reader = TreeReader()
        self.cpu_count = cores()
        # Prime the system-wide counters too, so the first snapshot has an interval.
        psutil.cpu_percent(None)
        psutil.cpu_percent(None, percpu=True)

    def resolve(self, target: StatsTarget) -> list[int]:
        """The root pids of ``target``, looked up afresh (processes come and go)."""
        if target.pid_file is not None:
            return [read_pid_file(target.pid_file)]
        if target.port is not None:
            pids = listening_roots(target.port)
            if not pids:
                raise TargetNotFound(f"no process listens on port {target.port}")
            return pids
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

    def tree(self, roots: Iterable[int], memo: dict[int, Reading | None]) -> dict[str, Any]:
        """Summed usage of ``roots`` and all their descendants (e.g. gunicorn workers).

        CPU: ``cpu_raw_pct`` is psutil's figure (100 = one core busy), ``cpu_pct`` the same
        divided by the core count (100 = the whole machine); null until an interval exists.
        ``memo`` holds this snapshot's per-process readings: a process in two trees is read
        once, since a second cpu_percent() call right after the first would read ~0.
        A root that is gone raises ``psutil.NoSuchProcess``.
        """
        pids = {pid for root in roots for pid in members(root)}
        for pid in pids - set(memo):
            memo[pid] = self.reader.read(pid)
        rows = [row for pid in sorted(pids) if (row := memo[pid]) is not None]
        sums = total(rows)
        raw = None if sums.cpu_pct is None else round(sums.cpu_pct, 2)
        return {
            "pids": [r.pid for r in rows],
            "process_count": sums.count,
            "cpu_pct": None if raw is None else round(raw / self.cpu_count, 2),
            "cpu_raw_pct": raw,
            "rss_mb": _mb(sums.rss_bytes),
            "uss_mb": None if sums.uss_bytes is None else _mb(sums.uss_bytes),
            "threads": sums.threads,
            "num_fds": sums.fds,
            "io": sums.io,
            "ctx_switches": {"voluntary": sums.ctx_voluntary, "involuntary": sums.ctx_involuntary}
            if rows
            else None,
        }

    def snapshot(
        self, targets: Sequence[StatsTarget], server_pid: int | None = None
    ) -> dict[str, Any]:
        """Everything ``/stats`` reports: system, the server's process tree (rooted at
        ``server_pid``, default this process), each target."""
        memo: dict[int, Reading | None] = {}
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
        self.reader.forget(memo)
        return result


def rfc3339_now() -> str:
    """The current UTC time as RFC 3339 with milliseconds (``2026-01-02T03:04:05.678Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
