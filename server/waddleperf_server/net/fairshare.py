"""Fair sharing of a capped set of connections between sources. Pure: the caller passes time.

A global cap alone lets a few sources at their per-source cap deny everyone else until their
connections end (16 addresses × 16 connections fill 256 slots). Here a full table still
admits a newcomer, in the manner of nginx's and Apache's shedding of the greediest and
idlest clients:

1. a source already at its own cap (``per_source``) is refused;
2. below the global cap, the connection is admitted;
3. full: the source holding the most connections gives up its idlest one (least recently
   active; the oldest among equals) — if it holds at least two more than the newcomer, so
   the exchange makes the shares more even and two sources never take turns;
4. full and even (every source at about the same share): the connection idle longest
   anywhere gives way if it has been idle ``idle_shed_s`` or more;
5. otherwise the newcomer is refused: every slot is held by a busy connection of a source
   holding no more than its share.

Keys are the caller's accounting keys (``conncap.source_key``: an IPv4 address or an IPv6
/64). Memory is bounded by the cap: a source's entry exists only while it holds a slot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

H = TypeVar("H")


class Slot(Generic[H]):
    """One admitted connection: its source, what the caller uses to end it (``handle``),
    when it was admitted and when it last moved a byte (seconds on the caller's clock)."""

    __slots__ = ("accepted", "active", "handle", "held", "source")

    def __init__(self, source: str, handle: H, now: float) -> None:
        self.source = source
        self.handle = handle
        self.accepted = now
        self.active = now
        self.held = True

    def touch(self, now: float) -> None:
        """The connection moved data at ``now`` (s): it is not idle."""
        self.active = now


@dataclass(frozen=True, slots=True)
class Admission(Generic[H]):
    """What :meth:`FairShare.admit` decided: the new slot (None: refused, ``refused`` says
    why: ``"source"`` or ``"full"``) and the slot shed to make room for it, if any."""

    slot: Slot[H] | None
    shed: Slot[H] | None = None
    refused: str | None = None


class FairShare(Generic[H]):
    """At most ``capacity`` slots, at most ``per_source`` per source, shared fairly when
    full (see the module docstring). Never yields: safe between greenlets."""

    def __init__(self, capacity: int, per_source: int, idle_shed_s: float) -> None:
        if capacity < 1 or per_source < 1 or idle_shed_s <= 0:
            raise ValueError("capacity and per_source must be >= 1, idle_shed_s > 0")
        self.capacity = capacity
        self.per_source = per_source
        self.idle_shed_s = idle_shed_s
        self._by_source: dict[str, set[Slot[H]]] = {}
        self.total = 0

    def __len__(self) -> int:
        """Sources holding at least one slot."""
        return len(self._by_source)

    def count(self, source: str) -> int:
        """Slots ``source`` holds now."""
        return len(self._by_source.get(source, ()))

    def admit(self, source: str, handle: H, now: float) -> Admission[H]:
        """Decide on a new connection from ``source`` at ``now`` (s); a shed slot is already
        released here: the caller only has to end its connection."""
        held = self.count(source)
        if held >= self.per_source:
            return Admission(None, refused="source")
        shed: Slot[H] | None = None
        if self.total >= self.capacity:
            shed = self._victim(held, now)
            if shed is None:
                return Admission(None, refused="full")
            self.release(shed)
        slot = Slot(source, handle, now)
        self._by_source.setdefault(source, set()).add(slot)
        self.total += 1
        return Admission(slot, shed)

    def release(self, slot: Slot[H]) -> None:
        """The slot's connection ended (or was shed); releasing twice is harmless."""
        if not slot.held:
            return
        slot.held = False
        self.total -= 1
        slots = self._by_source.get(slot.source)
        if slots is not None:
            slots.discard(slot)
            if not slots:
                del self._by_source[slot.source]

    def _victim(self, newcomer_holds: int, now: float) -> Slot[H] | None:
        greediest = max(self._by_source.values(), key=len, default=None)
        if greediest is not None and len(greediest) >= newcomer_holds + 2:
            return _idlest(greediest)
        idlest = _idlest(s for slots in self._by_source.values() for s in slots)
        if idlest is not None and now - idlest.active >= self.idle_shed_s:
            return idlest
        return None


def _idlest(slots: Iterable[Slot[H]]) -> Slot[H] | None:
    best: Slot[H] | None = None
    for slot in slots:
        if best is None or (slot.active, slot.accepted) < (best.active, best.accepted):
            best = slot
    return best
