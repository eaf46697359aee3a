"""The kernel's own CPU accounting of processes, to judge CPU readings against on a shared machine.

A test whose verdict depends on how busy a process was compares the reading with what the
kernel says that process used over the same window, never with the load average or with how
busy the machine was assumed to be.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from waddleperf.profiling.sampler import Sample, Source


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
