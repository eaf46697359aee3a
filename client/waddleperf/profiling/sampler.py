"""Resource sampling of process trees and of the machine, with psutil or a server's ``/stats``.

Every sample is one flat dict with units in its keys: ``cpu_pct`` (percent of the whole machine,
i.e. psutil's per-process figure divided by the core count: 100 = every core busy),
``cpu_core_ratio`` (cores busy: 1.0 = one core), ``rss_mb``/``uss_mb`` (MiB), ``threads_count``,
``fds_count``, ``io_read_mb``/``io_write_mb`` (cumulative MiB), ``ctx_switches_count``
(cumulative) and ``processes_count``; system samples carry ``cpu_pct``, ``mem_used_pct`` and
cumulative ``net_sent_mb``/``net_recv_mb``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import psutil

from waddleperf_common import proctree

Sample = dict[str, Any]


class Source(Protocol):
    """Anything that yields one sample per call (None when the target is gone)."""

    name: str

    def sample(self) -> Sample | None: ...


#: How long a port's listeners found are trusted while every one of them lives, seconds.
PORT_REFRESH_S = 10.0


def _started(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _same(listener: tuple[int, float]) -> bool:
    """Whether the process ``pid`` started at ``started`` still runs (not a reused pid)."""
    pid, started = listener
    return _started(pid) == started


class ProcessTreeSource:
    """A process tree (roots and every descendant), by pid or by listening port.

    Read through one :class:`TreeReader` (one psutil.Process per pid, so CPU intervals are
    real); a process first seen is primed and counted from the next sample on.
    """

    def __init__(
        self,
        name: str,
        pids: Sequence[int] = (),
        port: int | None = None,
        pid_provider: Callable[[], Sequence[int]] | None = None,
    ) -> None:
        self.name = name
        self._pids = list(pids)
        self._port = port
        self._provider = pid_provider
        self._reader = proctree.TreeReader()
        self.cores = proctree.cores()
        self._listeners: list[tuple[int, float]] = []  # (pid, start time) of the port's roots
        self._looked_up = 0.0

    def roots(self) -> list[int]:
        """The root pids: a provider's answer each time, or a port's listeners (looked up
        again when one of them is gone, and every :data:`PORT_REFRESH_S`: a port can change
        hands; the system's connection table is slow to read on a loaded machine)."""
        if self._provider is not None:
            return list(self._provider())
        if self._port is not None:
            return self._port_roots(self._port)
        return self._pids

    def _port_roots(self, port: int) -> list[int]:
        now = time.monotonic()
        known = self._listeners
        if known and now - self._looked_up < PORT_REFRESH_S and all(map(_same, known)):
            return [pid for pid, _ in known]
        self._listeners = [(pid, started) for pid in proctree.listening_roots(port)
                           if (started := _started(pid)) is not None]  # fmt: skip
        self._looked_up = now
        return [pid for pid, _ in self._listeners]

    def _members(self) -> list[int]:
        found: dict[int, None] = {}
        for root in self.roots():
            try:
                found.update(dict.fromkeys(proctree.members(root)))
            except psutil.Error:  # a root that is gone has no tree
                continue
        return list(found)

    def _read(self, pid: int) -> proctree.Reading | None:
        try:
            return self._reader.read(pid)
        except psutil.Error:  # one we may not read counts as gone
            return None

    def sample(self) -> Sample | None:
        """Summed usage of the tree now; None when no process of it is left."""
        pids = self._members()
        sums = proctree.total([r for pid in pids if (r := self._read(pid)) is not None])
        self._reader.forget(pids)
        if sums.count == 0:
            return None
        cpu = sums.cpu_pct or 0.0  # processes first seen count from the next sample on
        io = sums.io or {}
        return {
            "source": self.name,
            "cpu_pct": round(cpu / self.cores, 2),
            "cpu_core_ratio": round(cpu / 100.0, 3),
            "rss_mb": round(sums.rss_bytes / proctree.MB, 3),
            "uss_mb": round((sums.uss_bytes or 0) / proctree.MB, 3),
            "threads_count": sums.threads,
            "fds_count": sums.fds,
            "io_read_mb": round(io.get("read_bytes", 0) / proctree.MB, 3),
            "io_write_mb": round(io.get("write_bytes", 0) / proctree.MB, 3),
            "ctx_switches_count": sums.ctx_voluntary + sums.ctx_involuntary,
            "processes_count": sums.count,
        }


class SystemSource:
    """The whole machine: CPU since the previous sample, memory in use, network counters."""

    name = "system"

    def __init__(self) -> None:
        psutil.cpu_percent(None)  # prime: the first real figure needs an interval

    def sample(self) -> Sample | None:
        mem = psutil.virtual_memory()
        net = psutil.net_io_counters()
        return {
            "source": self.name,
            "cpu_pct": psutil.cpu_percent(None),
            "mem_used_pct": mem.percent,
            "net_sent_mb": round(net.bytes_sent / proctree.MB, 3) if net else None,
            "net_recv_mb": round(net.bytes_recv / proctree.MB, 3) if net else None,
        }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_stats_entry(name: str, entry: dict[str, Any]) -> Sample | None:
    """One process-tree entry of a server's ``/stats`` answer as a sample; tolerant by design.

    Assumes (and documents in docs/load.md) psutil-like keys: ``cpu_pct`` (machine-normalised),
    or ``cpu_raw_pct``/``cpu_percent`` with ``cpu_count``; ``rss_mb``, ``uss_mb``, ``threads``,
    ``num_fds``, ``io`` (read_bytes/write_bytes), ``ctx_switches``. Missing keys become None.
    """
    if entry.get("found") is False:
        return None
    cpu = _number(entry.get("cpu_pct"))
    raw = _number(entry.get("cpu_raw_pct", entry.get("cpu_percent")))
    if cpu is None and raw is not None:
        cpu = raw / max(1.0, _number(entry.get("cpu_count")) or 1.0)
    io_entry = entry.get("io")
    io: dict[str, Any] = io_entry if isinstance(io_entry, dict) else {}
    ctx = entry.get("ctx_switches")
    ctx_total = (
        sum(v for v in ctx.values() if isinstance(v, int | float)) if isinstance(ctx, dict) else ctx
    )
    read_b, write_b = _number(io.get("read_bytes")), _number(io.get("write_bytes"))
    return {
        "source": name,
        "cpu_pct": cpu,
        "cpu_core_ratio": None if raw is None else round(raw / 100.0, 3),
        "rss_mb": _number(entry.get("rss_mb")),
        "uss_mb": _number(entry.get("uss_mb")),
        "threads_count": _number(entry.get("threads")),
        "fds_count": _number(entry.get("num_fds")),
        "io_read_mb": None if read_b is None else round(read_b / proctree.MB, 3),
        "io_write_mb": None if write_b is None else round(write_b / proctree.MB, 3),
        "ctx_switches_count": _number(ctx_total),
        "processes_count": _number(entry.get("process_count")),
    }


def find_stats_entry(doc: dict[str, Any], target: str) -> dict[str, Any] | None:
    """The entry for ``target`` in a ``/stats`` document: ``targets`` (list or mapping),
    ``processes`` likewise, or ``server`` for the server itself."""
    if target == "server" and isinstance(doc.get("server"), dict):
        return dict(doc["server"])
    for key in ("targets", "processes"):
        group = doc.get(key)
        if isinstance(group, dict) and isinstance(group.get(target), dict):
            return dict(group[target])
        if isinstance(group, list):
            for item in group:
                if isinstance(item, dict) and item.get("name") == target:
                    return dict(item)
    return None


def stats_token(env_name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The bearer token for a server's ``/stats``, from the variable ``env_name`` (the
    configuration names the variable, never the token); None when no variable is named.

    Raises ValueError naming the variable when it is unset or empty: a run that was meant to
    carry the token must not quietly sample nothing (the server answers 403 without it).
    """
    if not env_name:
        return None
    value = (os.environ if environ is None else environ).get(env_name, "").strip()
    if not value:
        raise ValueError(f"the /stats token variable {env_name} is unset or empty")
    return value


class RemoteStatsSource:
    """One target as reported by a WaddlePerf server's ``GET /stats`` (JSON), with the
    operator's bearer token when one is given."""

    def __init__(
        self, name: str, url: str, target: str, timeout_s: float = 2.0, token: str | None = None
    ) -> None:
        self.name = name
        self._url = url
        self._target = target
        self._timeout = timeout_s
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def sample(self) -> Sample | None:
        request = urllib.request.Request(self._url, headers=self._headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:  # noqa: S310
                doc = json.loads(resp.read())
        except (OSError, ValueError):
            return None
        entry = find_stats_entry(doc, self._target) if isinstance(doc, dict) else None
        return None if entry is None else parse_stats_entry(self.name, entry)


def next_tick(due: float, interval_s: float, now: float) -> float:
    """The grid point after ``due`` (spaced ``interval_s``) that is still ahead of ``now``."""
    due += interval_s
    if due <= now:
        due += ((now - due) // interval_s + 1) * interval_s
    return due


class Sampler:
    """Samples every source each ``interval_s`` seconds (on a fixed grid) on a background
    thread until stopped."""

    def __init__(self, sources: Iterable[Source], interval_s: float = 1.0) -> None:
        self.sources = list(sources)
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, source: Source) -> None:
        """Sample ``source`` too from the next tick on (e.g. Locust once it has started)."""
        with self._lock:
            self.sources.append(source)
            source.sample()  # prime its CPU counters

    def tick(self) -> None:
        """Take one sample of every source now."""
        now = time.time()
        with self._lock:
            sources = list(self.sources)
        for source in sources:
            try:
                sample = source.sample()
            except psutil.Error:
                sample = None
            if sample is not None:
                sample["time"] = now
                self.samples.append(sample)

    def _loop(self) -> None:
        # Ticks on a fixed grid: a tick's own time (a busy machine's connection table, read
        # to find a port's processes) does not stretch the period; a tick that overruns skips
        # the grid points it missed instead of firing them in a burst.
        next_at = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self.tick()
            next_at = next_tick(next_at, self.interval_s, time.monotonic())

    def start(self) -> Sampler:
        for source in self.sources:
            source.sample()  # prime CPU counters so the first tick has an interval
        self._thread = threading.Thread(target=self._loop, name="waddleperf-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        """Stop sampling; returns every sample taken."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
        return self.samples
