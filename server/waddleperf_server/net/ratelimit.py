"""Per-source token-bucket rate limiting with bounded memory. Pure: the caller supplies time.

Each source (any hashable key; the UDP echo uses ``conncap.source_key``: an IPv4 address, or an
IPv6 /64, since one host owns a whole /64) owns a bucket of ``burst`` tokens
refilled at ``rate`` tokens per second. A flood of spoofed sources cannot grow memory without
bound: at most ``max_sources`` buckets are kept, and the least recently seen one is forgotten
first. A forgotten source that comes back starts with a full bucket, which is the price of the
bound; an attacker who rotates sources is limited by the global receive path, not by us.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Decide, per source, whether one more event is allowed at a given time.

    ``rate`` is in tokens (events) per second, ``burst`` in tokens, times in seconds on any
    monotonic clock the caller chooses.
    """

    def __init__(self, rate: float, burst: float, max_sources: int) -> None:
        if rate <= 0 or burst < 1 or max_sources < 1:
            raise ValueError("rate must be > 0, burst >= 1 and max_sources >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.max_sources = max_sources
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, source: Hashable, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens from ``source``'s bucket at time ``now`` (s); False if too few."""
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = _Bucket(tokens=self.burst, updated=now)
            self._buckets[source] = bucket
            if len(self._buckets) > self.max_sources:
                self._buckets.popitem(last=False)
                self.evictions += 1
        else:
            self._buckets.move_to_end(source)
            # A clock that steps backwards must not mint tokens, hence max(0, …).
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.updated = max(bucket.updated, now)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return True
        return False

    def tokens(self, source: Hashable) -> float | None:
        """Tokens left in ``source``'s bucket as of its last update, or None if not tracked."""
        bucket = self._buckets.get(source)
        return None if bucket is None else bucket.tokens


@dataclass(slots=True)
class _Tally:
    dropped: int = 0  # since the last query answered
    query: int | None = None  # the last query answered, and what it was told
    answered: int = 0


class DropTally:
    """Per source (e.g. an address and port), how many of its datagrams were dropped since
    it last asked: what the UDP echo answers a rate-drop query with.

    Bounded like the limiter: at most ``max_sources`` sources, the least recently dropped or
    asked forgotten first. Only a drop creates an entry, so sources that are never dropped
    cost nothing. Asking resets the count; asking again with the same query id (its answer
    was lost) gets the same answer, not zero.
    """

    def __init__(self, max_sources: int) -> None:
        if max_sources < 1:
            raise ValueError("max_sources must be >= 1")
        self.max_sources = max_sources
        self._entries: OrderedDict[Hashable, _Tally] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def dropped(self, source: Hashable) -> None:
        """Count one datagram of ``source`` dropped."""
        entry = self._entries.get(source)
        if entry is None:
            entry = self._entries[source] = _Tally()
            if len(self._entries) > self.max_sources:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(source)
        entry.dropped += 1

    def report(self, source: Hashable, query: int) -> int:
        """Datagrams of ``source`` dropped since its previous query (other than ``query``),
        and start counting again; 0 for a source never dropped (or forgotten)."""
        entry = self._entries.get(source)
        if entry is None:
            return 0
        self._entries.move_to_end(source)
        if entry.query != query:
            entry.query, entry.answered, entry.dropped = query, entry.dropped, 0
        return entry.answered


class LogThrottle:
    """Let one log line per event type through at most every ``interval_s`` seconds.

    Event types are a small fixed set chosen by the caller (never attacker-chosen strings),
    so the two dictionaries stay tiny.
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def admit(self, event: str, now: float) -> int | None:
        """None to stay quiet; otherwise how many ``event`` lines were suppressed before now."""
        if now < self._next.get(event, float("-inf")):
            self._suppressed[event] = self._suppressed.get(event, 0) + 1
            return None
        self._next[event] = now + self.interval_s
        return self._suppressed.pop(event, 0)

    def log(self, logger: logging.Logger, event: str, now: float, fmt: str, *args: object) -> None:
        """Log ``fmt % args`` at INFO unless ``event`` was logged less than ``interval_s`` ago."""
        suppressed = self.admit(event, now)
        if suppressed is None:
            return
        if suppressed:
            fmt += " (%d similar suppressed)"
            args = (*args, suppressed)
        logger.info(fmt, *args)
