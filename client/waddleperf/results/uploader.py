"""The uploader: drains the spool into a store, oldest bundle first, never losing one.

Per bundle: validate it (an invalid bundle is quarantined, not deleted), hash it, ``put`` it
under its Hive key, and only when the store confirmed that checksum remove it from the spool.
Bundles the spool could not take (its disk full) are held in memory by the agent
(:class:`HeldBundles`); they are sent straight from memory the same way and leave memory only
once the store confirmed them. Spooled and held bundles form one queue, oldest first.

A failed upload is retried with capped exponential back-off and jitter; attempts and the next
try time live in the spool's state file, so a restart keeps the back-off. A store failure ends
the pass (a newer bundle never goes out ahead of an older one that just failed), except for a
bundle that has failed ``holds_back_attempts`` times already; other failures end it after
``max_failures_per_pass``, so a dead endpoint costs one attempt a pass, not one per bundle.
While uploads fail, the oldest waiting bundle *probes* the store every ``probe_s`` seconds (and
whenever any other bundle is due), so a store that comes back is noticed within seconds; the
first success ends every back-off and the next pass starts at once, oldest first.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from waddleperf.results.atomic import sha256_file
from waddleperf.results.reader import BundleError, verify_bundle, verify_bundle_bytes
from waddleperf.results.spool import EntryState, Spool
from waddleperf.results.stores import (
    Store,
    StoreError,
    bundle_metadata,
    bundle_tags,
    hive_key,
)

log = logging.getLogger("waddleperf.results.uploader")


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off after failed uploads, in seconds."""

    base_s: float = 2.0
    cap_s: float = 600.0
    #: Share of each delay that is random: delay × (1 − jitter × U[0,1)), so agents that failed
    #: together do not retry together, yet never sooner than (1 − jitter) of the schedule.
    jitter: float = 0.5
    max_failures_per_pass: int = 3
    #: While uploads fail, the oldest waiting bundle is tried again after at most this long
    #: (jittered like the back-off): how soon a store that came back is noticed. One request
    #: per probe against a dead S3 endpoint (the put's first call is a HEAD, with no body).
    probe_s: float = 2.5
    #: A store failure ends the pass — no newer bundle is tried after an older one failed, so
    #: none can go out ahead of it when the store comes back mid-pass — unless the failing
    #: bundle has already failed this many attempts: then it may be its own problem, and the
    #: newer ones behind it are tried after each of its scheduled retries.
    holds_back_attempts: int = 10

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempts``-th consecutive failure."""
        exponent = min(max(attempts - 1, 0), 62)  # 2**62 s is already far past any cap
        delay = min(self.cap_s, self.base_s * 2.0**exponent)
        return delay * (1.0 - self.jitter * rng.random())

    def probe_delay(self, rng: random.Random) -> float:
        """Seconds until the store is probed again after a failure."""
        return self.probe_s * (1.0 - self.jitter * rng.random())


class HeldBundles(Protocol):
    """Bundles kept in memory because the spool's disk could not take them (the agent's pending
    queue). The uploader sends them straight to the store; thread-safe on the holder's side."""

    def held_names(self) -> list[str]:
        """Names (spool file names) of the bundles held, oldest first."""
        ...

    def checkout(self, name: str) -> bytes | None:
        """Claim ``name`` for an upload and return its archive; None when it left memory.
        A claimed bundle stays in memory (and out of the spool) until :meth:`checkin`."""
        ...

    def checkin(self, name: str, location: str | None) -> None:
        """End the claim: ``location`` is where the store confirmed it (it may leave memory
        now), or None when the upload failed (it stays)."""
        ...


@dataclass
class PassReport:
    """What one drain pass did, by bundle file name."""

    uploaded: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)  # store had it: spool entry removed
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # waiting for their back-off
    quarantined: list[str] = field(default_factory=list)
    from_memory: list[str] = field(default_factory=list)  # of uploaded/already_stored: held ones
    remaining: int = 0  # bundles still waiting, spooled or held in memory
    next_due: float | None = None  # epoch seconds of the next try or probe, if any
    #: The store works again after older bundles were skipped: the next pass is due at once.
    again: bool = False

    @property
    def drained(self) -> bool:
        """True when nothing more waits for upload (in the spool or in memory)."""
        return self.remaining == 0


#: One waiting bundle: its name and its spool path (None: held in memory).
_Waiting = tuple[str, Path | None]


class Uploader:
    """Moves bundles from a spool (and the agent's memory) to a store. One per spool."""

    def __init__(
        self,
        spool: Spool,
        store: Store,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        wait: Callable[[float], object] | None = None,
        held: HeldBundles | None = None,
    ) -> None:
        """``clock``, ``rng`` and ``wait`` (the pause between passes in :meth:`run`: at most
        the given seconds, ended early by :meth:`notify`) let a test simulate hours at once.
        ``held``: bundles kept in memory, uploaded with the spooled ones, oldest first."""
        self.spool = spool
        self.store = store
        self.policy = policy or RetryPolicy()
        self.held = held
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._wait = wait or self._wake.wait
        self._stopping = threading.Event()
        # A final drain_once() at shutdown may overlap a run() pass that outlived its join.
        self._pass_lock = threading.Lock()
        #: Back-off of held bundles (memory only, as they are).
        self._held_state: dict[str, EntryState] = {}
        # The store is probed at once on start (a restarted agent's backlog may sit in a
        # persisted back-off while the store works), then after each failure; never while up.
        self._next_probe = 0.0
        self._down = False
        #: For the exporter: bundles the store confirmed, failed attempts, the last success.
        self.uploaded_total = 0
        self.failures_total = 0
        self.last_success_at: float | None = None

    def _confirmed(self) -> None:
        self.uploaded_total += 1
        self.last_success_at = self._clock()

    def upload_one(self, path: Path, report: PassReport) -> bool:
        """Upload one bundle; True when it left the spool (stored, or quarantined as invalid)."""
        try:
            manifest = verify_bundle(path)
        except BundleError as exc:
            self.spool.quarantine(path, str(exc))
            report.quarantined.append(path.name)
            return True
        sha = sha256_file(path)
        confirmation = self.store.put(
            path, hive_key(manifest), sha, bundle_tags(manifest), bundle_metadata(manifest, sha)
        )
        if confirmation.sha256 != sha or not confirmation.verified:
            raise RuntimeError(f"{self.store.name} store confirmed a different checksum")
        self.spool.remove(path)
        self._confirmed()
        (report.already_stored if confirmation.skipped else report.uploaded).append(path.name)
        log.info("uploaded %s to %s", path.name, confirmation.location)
        return True

    def upload_held(self, name: str, report: PassReport) -> bool:
        """Upload one bundle straight from memory; True when the store confirmed it (it then
        leaves memory), False when it was no longer held (it went to the spool meanwhile)."""
        assert self.held is not None
        data = self.held.checkout(name)
        if data is None:
            return False
        location: str | None = None
        try:
            # Our own writer made it: invalid would be a bug. It then stays, reaches the spool
            # once the disk has room, and is quarantined there like any invalid bundle.
            manifest = verify_bundle_bytes(name, data)
            sha = hashlib.sha256(data).hexdigest()
            tags, meta = bundle_tags(manifest), bundle_metadata(manifest, sha)
            confirmation = self.store.put(data, hive_key(manifest), sha, tags, meta)
            if confirmation.sha256 != sha or not confirmation.verified:
                raise RuntimeError(f"{self.store.name} store confirmed a different checksum")
            location = confirmation.location
        finally:
            self.held.checkin(name, location)
        self._held_state.pop(name, None)
        self._confirmed()
        (report.already_stored if confirmation.skipped else report.uploaded).append(name)
        report.from_memory.append(name)
        log.info("uploaded %s to %s straight from memory", name, location)
        return True

    def drain_once(self, memory_only: bool = False) -> PassReport:
        """One pass over the spool and the held bundles, oldest first; never raises for a store
        failure. ``memory_only``: only the held bundles (at a signal: they have no other copy).

        Passes are serialised: a call while another thread's pass runs waits for it.
        """
        with self._pass_lock:
            return self._pass(memory_only)

    def _waiting(self, memory_only: bool = False) -> list[_Waiting]:
        found: dict[str, Path | None] = {}
        if self.held is not None:
            found = dict.fromkeys(self.held.held_names())
        # Listed after the held ones: a bundle that moved to the spool in between is seen there.
        if not memory_only:
            found.update((p.name, p) for p in self.spool.bundles())
        for gone in set(self._held_state) - {n for n, p in found.items() if p is None}:
            del self._held_state[gone]
        return sorted(found.items())

    def _state(self, name: str, path: Path | None) -> EntryState:
        if path is not None:
            return self.spool.entry(path)
        return self._held_state.get(name) or EntryState()

    def _pass(self, memory_only: bool = False) -> PassReport:
        report = PassReport()
        failures = 0
        waiting = self._waiting(memory_only)
        start = self._clock()
        # The oldest goes whenever the store is tried at all, and at each probe: so the upload
        # that finds the store back is the oldest's, never a newer bundle's.
        oldest_due = self._next_probe <= start or any(
            self._state(n, p).next_try <= start for n, p in waiting
        )
        for index, (name, path) in enumerate(waiting):
            now = self._clock()
            state = self._state(name, path)
            due = state.next_try <= now or (index == 0 and oldest_due)
            if not due or failures >= self.policy.max_failures_per_pass:
                report.deferred.append(name)
                continue
            try:
                if path is not None:
                    self.upload_one(path, report)
                elif not self.upload_held(name, report):
                    continue  # it went to the spool meanwhile: the next pass finds it there
            except Exception as exc:  # any failure: keep the bundle, back off
                failures += 1
                self._failed(name, path, state, exc, now, report, probe=state.next_try > now)
                if isinstance(exc, StoreError) and (
                    state.next_try > now or state.attempts + 1 < self.policy.holds_back_attempts
                ):
                    report.deferred.extend(n for n, _ in waiting[index + 1 :])
                    break
                continue
            was_down, self._down, self._next_probe = self._down, False, math.inf
            # The store works (again): the backlog need not sit out its back-off, which after
            # a long outage is up to the cap (10 min).
            cleared = self.spool.clear_backoff(now) + self._clear_held_backoff(now)
            if cleared or was_down:
                log.info("store %s answers again: retrying the backlog now", self.store.name)
                if report.deferred:  # older ones were skipped: start over, oldest first
                    report.again = True
                    break
        left = self._waiting(memory_only)
        report.remaining = len(left)
        now = self._clock()
        waits = [t for t in (self._state(n, p).next_try for n, p in left) if t > now]
        if left and self._next_probe < math.inf:
            waits.append(max(now, self._next_probe))
        report.next_due = min(waits) if waits else None
        return report

    def _failed(
        self,
        name: str,
        path: Path | None,
        state: EntryState,
        exc: Exception,
        now: float,
        report: PassReport,
        probe: bool,
    ) -> None:
        self._down = True
        self.failures_total += 1
        self._next_probe = now + self.policy.probe_delay(self._rng)
        report.failed.append(name)
        if probe and isinstance(exc, StoreError):
            # Tried before its back-off ended, only to see whether the store is back: its own
            # schedule stands, and nothing is written or logged every few seconds of an outage.
            log.debug("store %s still fails (probe with %s): %s", self.store.name, name, exc)
            return
        wait = self.policy.delay(state.attempts + 1, self._rng)
        if path is not None:
            after = self.spool.record_failure(path, str(exc), now + wait)
        else:
            after = EntryState(state.attempts + 1, now + wait, str(exc)[:500])
            self._held_state[name] = after
        log.warning(
            "upload of %s%s failed (attempt %d, next in %.1f s): %s",
            name, "" if path is not None else " (held in memory)", after.attempts, wait, exc,
            # A store failure is expected weather; anything else is a bug to trace.
            exc_info=not isinstance(exc, StoreError),
        )  # fmt: skip

    def _clear_held_backoff(self, now: float) -> int:
        waiting = [e for e in self._held_state.values() if e.next_try > now]
        for entry in waiting:
            entry.next_try = 0.0
        return len(waiting)

    def notify(self) -> None:
        """A new bundle is waiting: start the next pass now instead of after the idle pause."""
        self._wake.set()

    def stop(self) -> None:
        """Make :meth:`run` return after the current upload."""
        self._stopping.set()
        self._wake.set()

    def run(self, idle_s: float = 30.0) -> None:
        """Drain until :meth:`stop`: pause until the next retry or probe is due, at most
        ``idle_s``; no pause at all when the store came back with older bundles waiting."""
        while not self._stopping.is_set():
            try:
                report = self.drain_once()
            except Exception:  # the uploader thread must outlive any surprise (disk, state)
                log.exception("upload pass failed")
                report = PassReport(next_due=self._clock() + idle_s)
            if report.again:
                continue
            pause = idle_s
            if report.next_due is not None:
                pause = min(idle_s, max(0.0, report.next_due - self._clock()))
            self._wait(pause)
            self._wake.clear()
