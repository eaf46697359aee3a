"""The HTTP connection pool's policy: who gets a slot, who is shed, how long a client may take
to send its request. Pure: time is passed in, sockets and greenlets are opaque tokens, so it is
unit-tested with a fake clock.

In the manner of nginx and Apache's mod_reqtimeout:

- **admission before a slot**: a source over its per-source cap is refused without taking a
  slot (the caller answers 429 outside the pool);
- **fair shedding when full**: a newcomer takes the slot of a *waiting* connection (an idle
  keep-alive one or one still sending its head) of the source holding the most connections,
  provided that source holds at least two more than the newcomer's (so shedding moves toward
  an equal share and never churns between equals); within that source the slowest sender goes
  first (an idle one has rate 0), the oldest among equals. Connections reading a body or
  running a request are never shed. With nobody to shed the newcomer is refused (503);
- **minimum receive rate**: a head gets ``head_timeout_s`` plus one second for every
  ``min_receive_bytes_per_s`` bytes received, at most ``max_wait_s``; a body the same with no
  ceiling (only the rate counts), so a trickle of one byte a second is cut off while a slow
  honest link is not;
- **deadlines that shrink as the pool fills**: above PRESSURE_START occupancy the head and
  idle allowances shrink linearly, down to ``head_timeout_min_s`` at a full pool;
- **jitter**: each connection draws a share of JITTER at admission, and ``head_timeout_s``
  and ``head_timeout_min_s`` are cut by it for that connection (``max_wait_s`` never is), so
  connections opened in one burst (a slowloris tool reopening its sockets) do not all expire,
  and come back, in one burst again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from waddleperf_server.net.conncap import SourceCounter

#: Occupancy (fraction of the pool) above which the head and idle deadlines shrink.
PRESSURE_START = 0.5
#: The largest share of its head and idle allowance a connection may lose to jitter.
JITTER = 0.5
#: Cost of one open HTTP connection beyond its buffered head (greenlet, handler, socket
#: objects): 10.2 KiB of RSS per idle connection measured with 5000 of them, rounded up to
#: allow for the kernel's socket structures (docs/server.md, "Slow clients and the pool").
CONNECTION_OVERHEAD_BYTES = 16 * 1024
#: File descriptors kept free for everything but HTTP connections (listeners, logs, iperf3,
#: the other services, /stats reading /proc).
FD_RESERVE = 256


class Verdict(Enum):
    """What happens to a new connection."""

    ADMIT = "admit"
    REFUSE_SOURCE = "refuse_source"  # its source holds its cap: 429, no slot taken
    REFUSE_FULL = "refuse_full"  # the pool is full and nobody may be shed for it: 503


class Phase(Enum):
    """Where a connection is: waiting (sheddable) or working (never shed)."""

    IDLE = "idle"  # waiting for the first byte of a request
    HEAD = "head"  # the request head is arriving
    WORKING = "working"  # reading a body, running the app, sending the reply


class Slot:
    """One admitted connection as the policy sees it; ``token`` is the caller's (its greenlet)."""

    __slots__ = ("jitter", "live", "phase", "received", "since", "source", "token")

    def __init__(self, source: str, now: float, token: Any, jitter: float = 0.0) -> None:
        self.source = source
        self.token = token
        self.jitter = jitter  # in [0, 1): the share of JITTER cut from its allowances
        self.phase = Phase.HEAD  # a new connection's head clock runs from the accept
        self.since = now
        self.received = 0  # head bytes received in this phase
        self.live = True

    def rate(self, now: float) -> float:
        """Head bytes per second since the phase began (0 for an idle connection)."""
        return self.received / max(now - self.since, 1e-3)


@dataclass(frozen=True, slots=True)
class ReceiveRules:
    """The deadlines a client is held to (seconds, bytes per second)."""

    max_wait_s: float  # the longest any wait may last (http.request_timeout_s)
    head_timeout_s: float
    head_timeout_min_s: float
    min_receive_bytes_per_s: float

    def _shrink(self, allowance: float, occupancy: float, jitter: float) -> float:
        if occupancy <= PRESSURE_START:
            return allowance
        floor = min(self.head_timeout_min_s * (1.0 - JITTER * jitter), allowance)
        left = max(0.0, 1.0 - (occupancy - PRESSURE_START) / (1.0 - PRESSURE_START))
        return floor + (allowance - floor) * left

    def idle_deadline(self, since: float, occupancy: float, jitter: float = 0.0) -> float:
        """When an idle keep-alive connection (no byte of a new request yet) is closed."""
        return since + self._shrink(self.max_wait_s, occupancy, jitter)

    def head_deadline(
        self, since: float, received: int, occupancy: float, jitter: float = 0.0
    ) -> float:
        """When a request head begun at ``since`` with ``received`` bytes so far must be
        complete: the allowance grows with the bytes received, up to ``max_wait_s``."""
        grace = self.head_timeout_s * (1.0 - JITTER * jitter)
        grown = grace + received / self.min_receive_bytes_per_s
        return since + self._shrink(min(self.max_wait_s, grown), occupancy, jitter)

    def body_deadline(self, since: float, received: int) -> float:
        """When a body begun at ``since`` must have delivered more than ``received`` bytes."""
        return since + self.head_timeout_s + received / self.min_receive_bytes_per_s

    def deadline(self, slot: Slot, occupancy: float) -> float:
        """The deadline of a waiting slot (idle or in its head); infinity while working."""
        if slot.phase is Phase.IDLE:
            return self.idle_deadline(slot.since, occupancy, slot.jitter)
        if slot.phase is Phase.HEAD:
            return self.head_deadline(slot.since, slot.received, occupancy, slot.jitter)
        return float("inf")


def pool_size(
    available_bytes: int,
    memory_fraction: float,
    head_bytes: int,
    fd_limit: int,
    reserve_refusals: int,
) -> int:
    """Connections the pool may hold: ``memory_fraction`` of the available memory divided by
    the worst case of one connection (a full request head plus CONNECTION_OVERHEAD_BYTES),
    and never more than the file descriptors left after FD_RESERVE and the lingering refusals.
    At least 1."""
    per_connection = head_bytes + CONNECTION_OVERHEAD_BYTES
    by_memory = int(available_bytes * memory_fraction) // per_connection
    by_fds = fd_limit - FD_RESERVE - reserve_refusals
    return max(1, min(by_memory, by_fds))


class ConnectionPool:
    """The admitted connections, per source, with the waiting ones indexed for shedding.

    Greenlet-safe the same way as SourceCounter: no method yields.
    """

    def __init__(
        self,
        capacity: int,
        sources: SourceCounter,
        rules: ReceiveRules,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.capacity = capacity
        self.jitter = jitter
        self.sources = sources
        self.rules = rules
        self.shed = 0
        self.refused_full = 0
        self._size = 0
        # source -> its waiting slots, oldest first (insertion order)
        self._waiting: dict[str, dict[Slot, None]] = {}
        # total connections of a source -> the sources with waiting slots holding that many
        self._buckets: dict[int, dict[str, None]] = {}

    def __len__(self) -> int:
        """Admitted connections."""
        return self._size

    @property
    def occupancy(self) -> float:
        """Admitted connections as a fraction of the capacity (1.0 = full)."""
        return self._size / self.capacity

    def admit(
        self, source: str, now: float, token: Any
    ) -> tuple[Verdict, Slot | None, Slot | None]:
        """Decide on a new connection from ``source``: the verdict, its slot when admitted and
        the slot shed to make room for it (the caller closes that connection), if any."""
        if self.sources.count(source) >= self.sources.limit:
            return Verdict.REFUSE_SOURCE, None, None
        victim = None
        if self._size >= self.capacity:
            victim = self._victim(self.sources.count(source), now)
            if victim is None:
                self.refused_full += 1
                return Verdict.REFUSE_FULL, None, None
            self.release(victim)
            self.shed += 1
        self._unbucket(source)
        self.sources.acquire(source)
        slot = Slot(source, now, token, self.jitter())
        self._size += 1
        self._add_waiting(slot)
        self._rebucket(source)
        return Verdict.ADMIT, slot, victim

    def release(self, slot: Slot) -> None:
        """The connection ended (or was shed); idempotent."""
        if not slot.live:
            return
        slot.live = False
        self._drop_waiting(slot)
        self._unbucket(slot.source)
        self.sources.release(slot.source)
        self._size -= 1
        self._rebucket(slot.source)

    def waiting(self, slot: Slot, phase: Phase, now: float, received: int = 0) -> None:
        """The connection waits again: idle for a new request, or its head has begun."""
        slot.phase = phase
        slot.since = now
        slot.received = received
        if slot.live and slot.source in self._waiting and slot in self._waiting[slot.source]:
            return
        if slot.live:
            self._add_waiting(slot)

    def working(self, slot: Slot) -> None:
        """The connection reads a body or runs a request: it cannot be shed now."""
        slot.phase = Phase.WORKING
        if slot.live:
            self._drop_waiting(slot)

    def overdue(self, now: float) -> Iterator[Slot]:
        """Waiting slots past their deadline at the current occupancy (for the sweeper)."""
        occupancy = self.occupancy
        deadline = self.rules.deadline
        for slots in list(self._waiting.values()):
            for slot in list(slots):
                if deadline(slot, occupancy) < now:
                    yield slot

    def _victim(self, newcomer_count: int, now: float) -> Slot | None:
        for count in sorted(self._buckets, reverse=True):
            if count < newcomer_count + 2:
                return None
            for source in self._buckets[count]:
                slots = self._waiting[source]
                return min(slots, key=lambda s: (s.rate(now), s.since))
        return None

    def _add_waiting(self, slot: Slot) -> None:
        slots = self._waiting.get(slot.source)
        if slots is None:
            slots = self._waiting[slot.source] = {}
            slots[slot] = None
            self._rebucket(slot.source)
        else:
            slots[slot] = None

    def _drop_waiting(self, slot: Slot) -> None:
        slots = self._waiting.get(slot.source)
        if slots is None or slot not in slots:
            return
        del slots[slot]
        if not slots:
            self._unbucket(slot.source)
            del self._waiting[slot.source]

    def _unbucket(self, source: str) -> None:
        bucket = self._buckets.get(self.sources.count(source))
        if bucket is not None and source in bucket:
            del bucket[source]
            if not bucket:
                del self._buckets[self.sources.count(source)]

    def _rebucket(self, source: str) -> None:
        count = self.sources.count(source)
        if count and source in self._waiting:
            self._buckets.setdefault(count, {})[source] = None
