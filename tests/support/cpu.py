"""The kernel's own CPU accounting of processes, to judge CPU readings against on a shared machine.

A test whose verdict depends on how busy a process was compares the reading with what the
kernel says that process used over the same window, never with the load average or with how
busy the machine was assumed to be.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import psutil

from waddleperf.profiling.sampler import Sample, Source

T = TypeVar("T")


def procs_cpu_s(procs: Sequence[psutil.Process]) -> float:
    """CPU seconds (user + system) the given processes have used so far; gone ones count 0."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def tree(pid: int) -> list[psutil.Process]:
    """``pid`` and every descendant it has now."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and the descendants it has now."""
    return procs_cpu_s(tree(pid))


@dataclass
class Witnessed:
    """One sample of the wrapped source and the kernel's account of its interval."""

    sample: Sample
    #: Percent of the whole machine the tree used since the previous tick, per the kernel.
    kernel_pct: float


class KernelWitness:
    """A sampler source that passes ``inner``'s samples on and, right after each, reads the
    kernel's CPU seconds of the same tree, so every sample has the truth of its own interval.

    ``witnessed`` pairs each sample (from the second tick on: the first has no interval) with
    the kernel's percent of the machine over the time since the previous tick. The tree is
    re-read at every tick; a process of it that exits takes its seconds along, so use it on
    trees that keep their processes for the window.
    """

    def __init__(self, inner: Source, root_pid: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.root_pid = root_pid
        self.cores = psutil.cpu_count() or 1
        self.witnessed: list[Witnessed] = []
        self._last: tuple[float, float] | None = None

    def sample(self) -> Sample | None:
        sample = self.inner.sample()
        now, seconds = time.monotonic(), _alive_tree_cpu_s(self.root_pid)
        if sample is not None and self._last is not None and now > self._last[0]:
            pct = 100 * (seconds - self._last[1]) / (now - self._last[0]) / self.cores
            self.witnessed.append(Witnessed(sample, pct))
        self._last = (now, seconds)
        return sample


def _alive_tree_cpu_s(pid: int) -> float:
    try:
        return tree_cpu_s(pid)
    except psutil.NoSuchProcess:
        return 0.0


#: Slack for the kernel's clock-tick accounting (10 ms a tick): each of the two processes of a
#: tree may be a tick off in each difference, ours and the sampler's alike.
TICK_SLACK_S = 0.04


@dataclass(frozen=True)
class Mark:
    """A tree's CPU seconds so far and when they were read."""

    t: float
    cpu_s: float


class CpuBracket:
    """Brackets each read of a CPU sampler with the kernel's account of the same tree.

    A sampler reports the CPU share between two of its own reads, at instants inside those
    reads that the test cannot see. Reading the kernel just before and just after each read
    bounds them: the sampler's window contains the stretch between the end of one read and
    the start of the next, and lies within the stretch from the start of one to the end of the
    next. :attr:`window` is then the range (percent of one core) the reading must fall in,
    however slowly a busy machine runs the reads themselves.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.window: tuple[float, float] | None = None
        self._prev: tuple[Mark, Mark] | None = None

    def _mark(self) -> Mark:
        return Mark(time.monotonic(), tree_cpu_s(self.pid))

    def read(self, reading: Callable[[], T]) -> T:
        """``reading()`` between two kernel marks; :attr:`window` set from the previous read."""
        before = self._mark()
        out = reading()
        after = self._mark()
        if self._prev is not None:
            self.window = bounds(*self._prev, before, after)
        self._prev = (before, after)
        return out


def bounds(start0: Mark, start1: Mark, end0: Mark, end1: Mark) -> tuple[float, float]:
    """Lowest and highest CPU percent (100 = one core) over a window that began between
    ``start0`` and ``start1`` and ended between ``end0`` and ``end1``."""
    inner_s, outer_s = end0.t - start1.t, end1.t - start0.t
    low = (end0.cpu_s - start1.cpu_s - TICK_SLACK_S) / outer_s
    high = (end1.cpu_s - start0.cpu_s + TICK_SLACK_S) / max(inner_s, 1e-6)
    return 100 * max(low, 0.0), 100 * high
