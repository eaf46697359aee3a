"""Bundles the spool refused, held in memory until the disk has room again.

A bundle the spool cannot take (its disk below the free-space floor, ENOSPC, a quota) is not
thrown away: the agent keeps its bytes here, bounded by a byte and a count limit, and offers
them to the spool again every cycle and whenever the uploader has freed space — oldest first,
and never a newer one ahead of an older one that is still waiting. Meanwhile the uploader may
send an entry straight to the store: it *claims* it first (the spool then leaves it alone) and
the entry leaves the queue only once the store confirmed it.

Each entry carries the full archive and, when the bundle had expendable parts (the reference
tools' raw outputs), a *slim* archive without them: the full one is written when it fits,
else the slim one, else the entry waits.

Everything here is pure (no I/O, no clock): :class:`PendingQueue` decides, the caller writes.
The one way data is lost: when the memory bound itself is exceeded, the oldest entries are
dropped — returned to the caller, which must log an ERROR and record the drop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

#: Extra room asked beyond a bundle's size: file-system blocks and the spool's state file.
SLACK_BYTES = 64 * 1024


@dataclass(frozen=True)
class PendingBundle:
    """One refused bundle: its spool name, its full archive, and its slim archive if any."""

    name: str
    full: bytes
    slim: bytes | None = None
    #: What the slim archive leaves out, for the log (e.g. "3 raw outputs, 812 kB").
    shed_note: str = ""

    #: True when ``full`` is itself the slim archive (the full one did not fit the bound).
    full_is_slim: bool = False

    @property
    def held_bytes(self) -> int:
        """Memory this entry holds (what the byte bound counts)."""
        return len(self.full) + (len(self.slim) if self.slim is not None else 0)

    def within(self, max_bytes: int) -> PendingBundle | None:
        """This entry, or a smaller form of it that holds at most ``max_bytes``; None if none.

        First the slim archive is given up (the full one stays), then the full one (only the
        slim one stays — the raw tool outputs are lost, the measurements are not).
        """
        if self.held_bytes <= max_bytes:
            return self
        if len(self.full) <= max_bytes:
            return PendingBundle(self.name, self.full, None, "", self.full_is_slim)
        if self.slim is not None and len(self.slim) <= max_bytes:
            return PendingBundle(self.name, self.slim, None, self.shed_note, True)
        return None


class Choice(StrEnum):
    """Which archive of a pending bundle to write now."""

    FULL = "full"
    SLIM = "slim"
    WAIT = "wait"


def choose(entry: PendingBundle, headroom: int, slack: int = SLACK_BYTES) -> Choice:
    """The full archive if it fits ``headroom`` bytes, else the slim one, else wait."""
    if len(entry.full) + slack <= headroom:
        return Choice.FULL
    if entry.slim is not None and len(entry.slim) + slack <= headroom:
        return Choice.SLIM
    return Choice.WAIT


@dataclass(frozen=True)
class Limits:
    """The in-memory bound: at most ``max_bundles`` entries and ``max_bytes`` held."""

    max_bytes: int
    max_bundles: int

    def __post_init__(self) -> None:
        if self.max_bytes < 0 or self.max_bundles < 0:
            raise ValueError("pending limits must be ≥ 0")


class PendingQueue:
    """Refused bundles in arrival (= age) order, within :class:`Limits`. Not thread-safe."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._items: deque[PendingBundle] = deque()
        self._bytes = 0
        #: Names of entries the uploader is sending to the store right now.
        self._claimed: set[str] = set()
        #: Since the agent started: bundles kept here, and how they left — dropped (the bound
        #: was exceeded, or the agent stopped), stored straight from memory, written to the spool.
        self.kept_total = 0
        self.dropped_total = 0
        self.stored_total = 0
        self.spooled_total = 0

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[PendingBundle]:
        return iter(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    @property
    def held_bytes(self) -> int:
        """Bytes held by all entries."""
        return self._bytes

    def names(self) -> list[str]:
        """Entry names, oldest first."""
        return [item.name for item in self._items]

    def add(self, entry: PendingBundle) -> list[PendingBundle]:
        """Queue ``entry`` (newest); return what the bound forced out, oldest first.

        The oldest entries go first, so the queue keeps the most recent cycles. An entry that
        alone exceeds the byte bound is first reduced (:meth:`PendingBundle.within`), else
        dropped itself (older entries stay). A name already queued is not queued twice.
        """
        if any(item.name == entry.name for item in self._items):
            return []
        fitted = entry.within(self.limits.max_bytes)
        if fitted is None or self.limits.max_bundles == 0:
            self.dropped_total += 1
            return [entry]
        self._items.append(fitted)
        self._bytes += fitted.held_bytes
        self.kept_total += 1
        dropped: list[PendingBundle] = []
        while len(self._items) > self.limits.max_bundles or self._bytes > self.limits.max_bytes:
            # Not one on its way to the store: it is about to leave anyway.
            victim = next((i for i in self._items if i.name not in self._claimed), None)
            if victim is None:
                break
            dropped.append(self.remove(victim.name))
        self.dropped_total += len(dropped)
        return dropped

    def _pop(self) -> PendingBundle:
        item = self._items.popleft()
        self._bytes -= item.held_bytes
        self._claimed.discard(item.name)
        return item

    def get(self, name: str) -> PendingBundle | None:
        """The entry ``name``, if queued."""
        return next((item for item in self._items if item.name == name), None)

    def remove(self, name: str) -> PendingBundle:
        """Take the entry ``name`` out of the queue, wherever it is (KeyError if absent)."""
        item = self.get(name)
        if item is None:
            raise KeyError(name)
        self._items.remove(item)
        self._bytes -= item.held_bytes
        self._claimed.discard(name)
        return item

    def claim(self, name: str) -> PendingBundle | None:
        """Mark ``name`` as being sent to the store and return it (None: not queued, or claimed
        already). A claimed entry is not written to the spool until :meth:`release`."""
        item = self.get(name)
        if item is None or name in self._claimed:
            return None
        self._claimed.add(name)
        return item

    def release(self, name: str) -> None:
        """The store did not take ``name``: it waits for the spool (or the next try) again."""
        self._claimed.discard(name)

    def claimed(self, name: str) -> bool:
        """True while the uploader is sending ``name`` to the store."""
        return name in self._claimed

    def head(self) -> PendingBundle | None:
        """The oldest entry (the only one that may be written next)."""
        return self._items[0] if self._items else None

    def next_write(self, headroom: int, slack: int = SLACK_BYTES) -> tuple[PendingBundle, Choice]:
        """The oldest entry and which archive of it fits ``headroom`` (WAIT: none does, or the
        uploader is sending it to the store right now)."""
        head = self.head()
        if head is None:
            raise IndexError("the pending queue is empty")
        if head.name in self._claimed:
            return head, Choice.WAIT
        return head, choose(head, headroom, slack)

    def written(self, name: str) -> PendingBundle:
        """The oldest entry, ``name``, is in the spool now: remove it."""
        head = self.head()
        if head is None or head.name != name:
            raise ValueError(f"{name} is not the oldest pending bundle")
        self.spooled_total += 1
        return self._pop()

    def stored(self, name: str) -> PendingBundle:
        """The store confirmed the claimed entry ``name``: remove it (KeyError if absent)."""
        item = self.remove(name)
        self.stored_total += 1
        return item

    def summary(self) -> str:
        """The counts since start, for the log line at exit."""
        return (
            f"bundles kept in memory since start: {self.kept_total} (stored straight from "
            f"memory: {self.stored_total}, written to the spool later: {self.spooled_total}); "
            f"dropped, their results lost: {self.dropped_total}"
        )

    def take_all(self) -> list[PendingBundle]:
        """Empty the queue (at exit: what could not be written), oldest first."""
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        self._claimed.clear()
        return items
