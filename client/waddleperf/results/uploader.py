"""The uploader: drains the spool into a store, oldest bundle first, never losing one.

Per bundle: validate it (an invalid bundle is quarantined, not deleted), hash it, ``put`` it
under its Hive key, and only when the store confirmed that checksum remove it from the spool.
A failed upload is retried with capped exponential back-off and jitter; attempts and the next
try time live in the spool's state file, so a restart keeps the back-off. A pass stops after
``max_failures_per_pass`` failures, so a dead endpoint costs a few attempts, not one per bundle.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from waddleperf.results.atomic import sha256_file
from waddleperf.results.reader import BundleError, verify_bundle
from waddleperf.results.spool import Spool
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

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempts``-th consecutive failure."""
        exponent = min(max(attempts - 1, 0), 62)  # 2**62 s is already far past any cap
        delay = min(self.cap_s, self.base_s * 2.0**exponent)
        return delay * (1.0 - self.jitter * rng.random())


@dataclass
class PassReport:
    """What one drain pass did, by bundle file name."""

    uploaded: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)  # store had it: spool entry removed
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # waiting for their back-off
    quarantined: list[str] = field(default_factory=list)
    remaining: int = 0
    next_due: float | None = None  # epoch seconds of the earliest back-off end, if any

    @property
    def drained(self) -> bool:
        """True when the spool holds nothing more to upload."""
        return self.remaining == 0


class Uploader:
    """Moves bundles from a spool to a store. One uploader per spool."""

    def __init__(
        self,
        spool: Spool,
        store: Store,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        """``clock``, ``rng`` and ``wait`` (the pause between passes in :meth:`run`: at most
        the given seconds, ended early by :meth:`notify`) let a test simulate hours at once."""
        self.spool = spool
        self.store = store
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._wait = wait or self._wake.wait
        self._stopping = threading.Event()
        # A final drain_once() at shutdown may overlap a run() pass that outlived its join.
        self._pass_lock = threading.Lock()

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
        (report.already_stored if confirmation.skipped else report.uploaded).append(path.name)
        log.info("uploaded %s to %s", path.name, confirmation.location)
        return True

    def drain_once(self) -> PassReport:
        """One pass over the spool, oldest first; never raises for a store failure.

        Passes are serialised: a call while another thread's pass runs waits for it.
        """
        with self._pass_lock:
            return self._pass()

    def _pass(self) -> PassReport:
        report = PassReport()
        failures = 0
        for path in self.spool.bundles():
            now = self._clock()
            entry = self.spool.entry(path)
            if entry.next_try > now or failures >= self.policy.max_failures_per_pass:
                report.deferred.append(path.name)
                continue
            try:
                self.upload_one(path, report)
                # The store works (again): the backlog need not sit out its back-off, which
                # after a long outage is up to the cap (10 min). The next pass, due at once,
                # takes it oldest first.
                if self.spool.clear_backoff(now):
                    log.info("store %s answers again: retrying the backlog now", self.store.name)
            except Exception as exc:  # any failure: keep the bundle, back off
                failures += 1
                wait = self.policy.delay(entry.attempts + 1, self._rng)
                after = self.spool.record_failure(path, str(exc), now + wait)
                report.failed.append(path.name)
                log.warning(
                    "upload of %s failed (attempt %d, next in %.1f s): %s",
                    path.name, after.attempts, wait, exc,
                    # A store failure is expected weather; anything else is a bug to trace.
                    exc_info=not isinstance(exc, StoreError),
                )  # fmt: skip
        left = self.spool.bundles()
        report.remaining = len(left)
        now = self._clock()
        waits = [t for t in (self.spool.entry(p).next_try for p in left) if t > now]
        report.next_due = min(waits) if waits else None
        return report

    def notify(self) -> None:
        """A new bundle is waiting: start the next pass now instead of after the idle pause."""
        self._wake.set()

    def stop(self) -> None:
        """Make :meth:`run` return after the current upload."""
        self._stopping.set()
        self._wake.set()

    def run(self, idle_s: float = 30.0) -> None:
        """Drain until :meth:`stop`: pause until the next retry is due, at most ``idle_s``."""
        while not self._stopping.is_set():
            try:
                report = self.drain_once()
            except Exception:  # the uploader thread must outlive any surprise (disk, state)
                log.exception("upload pass failed")
                report = PassReport(next_due=self._clock() + idle_s)
            pause = idle_s
            if report.next_due is not None:
                pause = min(idle_s, max(0.0, report.next_due - self._clock()))
            self._wait(pause)
            self._wake.clear()
