"""Uploader against an in-memory store: order, back-off, persistence, quarantine, idempotence."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.builders import T0, write_bundle
from tests.unit.results.fakes import Clock, MemoryStore
from waddleperf.results.atomic import sha256_file
from waddleperf.results.spool import Spool
from waddleperf.results.stores import BundleBody, PutConfirmation, Store, StoreError
from waddleperf.results.uploader import RetryPolicy, Uploader

POLICY = RetryPolicy(base_s=10, cap_s=60, jitter=0.5, max_failures_per_pass=2)


@pytest.fixture
def spool(tmp_path: Path):
    with Spool(tmp_path / "spool", min_free_bytes=0) as sp:
        yield sp


def _fill(spool: Spool, n: int) -> list[Path]:
    paths = [
        write_bundle(spool, run_id=f"r{i}", started_at=T0 + timedelta(minutes=i)).path
        for i in range(n)
    ]
    return [p for p in paths if p is not None]


def test_memory_store_has_the_store_shape() -> None:
    assert isinstance(MemoryStore(), Store)


def test_drains_oldest_first_with_key_tags_and_metadata(spool: Spool) -> None:
    paths = _fill(spool, 3)
    shas = [sha256_file(p) for p in paths]
    store = MemoryStore()
    report = Uploader(spool, store, POLICY).drain_once()
    assert report.drained and report.uploaded == [p.name for p in paths]
    assert store.puts == [f"v1/date=2026-11-21/agent=agent-1/r{i}.tar.gz" for i in range(3)]
    sha, _, tags, meta = store.objects[store.puts[0]]
    assert sha == shas[0] and meta == {
        "sha256": sha,
        "run-id": "r0",
        "bundle-format": "1",
        "agent": "agent-1",
    }
    assert tags == {
        "country": "unknown",
        "asn": "unknown",
        "tier": "2",
        "agent": "agent-1",
        "status": "degraded",
    }


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = [POLICY.delay(n, rng) for n in range(1, 8)]
    for n, d in enumerate(delays, start=1):
        full = min(60, 10 * 2 ** (n - 1))
        assert full / 2 <= d <= full
    assert RetryPolicy().delay(10_000, rng) <= RetryPolicy().cap_s


def test_failures_back_off_and_end_the_pass(spool: Spool) -> None:
    paths = _fill(spool, 4)
    names = [p.name for p in paths]
    clock, store = Clock(), MemoryStore(failures=2)
    up = Uploader(spool, store, POLICY, clock=clock, rng=random.Random(0))
    first = up.drain_once()
    # A store failure ends the pass: the endpoint is down, and no newer bundle may go out
    # ahead of the oldest should it come back mid-pass.
    assert first.failed == names[:1] and first.deferred == names[1:]
    # per-bundle back-off: 10 s, half of it random ...
    assert clock.now + 5 <= spool.entry(paths[0]).next_try <= clock.now + 10
    # ... but the store is probed again within probe_s
    assert first.next_due is not None
    assert clock.now + POLICY.probe_s / 2 <= first.next_due <= clock.now + POLICY.probe_s
    # The untried ones are due, so the oldest goes first (a probe: not counted as an attempt).
    second = up.drain_once()
    assert second.failed == [names[0]] and spool.entry(paths[0]).attempts == 1
    assert second.deferred == names[1:]
    # The store is back: the oldest goes, every back-off ends, the rest follow in order.
    third = up.drain_once()
    assert third.uploaded == names and third.drained
    assert not third.again and third.next_due is None
    assert [k.split("/")[-1] for k in store.puts] == [f"r{i}.tar.gz" for i in (0, 0, 0, 1, 2, 3)]


def test_a_bundle_failing_on_its_own_stops_holding_back_the_newer_ones(spool: Spool) -> None:
    paths = _fill(spool, 3)
    names = [p.name for p in paths]
    clock = Clock()
    policy = RetryPolicy(base_s=1, cap_s=1, jitter=0, max_failures_per_pass=2,
                         holds_back_attempts=3)  # fmt: skip

    class RefusesR0(MemoryStore):
        def put(self, bundle: BundleBody, key: str, *args: object, **kw: object) -> PutConfirmation:
            if key.endswith("/r0.tar.gz"):
                self.puts.append(key)
                raise StoreError("AccessDenied for this key")
            return super().put(bundle, key, *args, **kw)  # type: ignore[arg-type]

    store = RefusesR0()
    up = Uploader(spool, store, policy, clock=clock, rng=random.Random(0))
    for _ in range(2):  # two scheduled attempts fail: still holding the others back
        assert up.drain_once().deferred == names[1:]
        clock.now += 1.0
    report = up.drain_once()  # the third: from now on the newer ones are tried behind it
    assert report.failed == names[:1] and report.uploaded == names[1:]
    assert spool.bundles() == paths[:1] and spool.entry(paths[0]).attempts == 3


def test_backoff_survives_a_restart(spool: Spool, tmp_path: Path) -> None:
    [path] = _fill(spool, 1)
    clock = Clock()
    Uploader(spool, MemoryStore(failures=5), POLICY, clock=clock).drain_once()
    persisted = spool.entry(path)
    spool.close()
    with Spool(tmp_path / "spool", min_free_bytes=0) as reopened:
        store = MemoryStore(failures=2)
        up = Uploader(reopened, store, POLICY, clock=clock)
        # A restarted uploader probes the store once at once (its backlog may be in a long
        # back-off while the store works); a failed probe leaves the persisted back-off alone.
        assert up.drain_once().failed == [path.name] and len(store.puts) == 1
        assert reopened.entry(path) == persisted
        assert up.drain_once().deferred == [path.name] and len(store.puts) == 1
        clock.now += 10
        assert up.drain_once().failed == [path.name]
        assert reopened.entry(path).attempts == 2  # the second delay is longer
        assert reopened.entry(path).next_try >= clock.now + 10


def test_already_stored_bundle_is_only_removed(spool: Spool) -> None:
    [path] = _fill(spool, 1)
    store = MemoryStore()
    data = path.read_bytes()
    Uploader(spool, store, POLICY).drain_once()
    # A crash between the store's confirmation and the spool removal: the bundle is back.
    path.write_bytes(data)
    report = Uploader(spool, store, POLICY).drain_once()
    assert report.already_stored == [path.name] and report.drained and len(store.objects) == 1


def test_invalid_bundle_is_quarantined_not_lost(spool: Spool) -> None:
    good, bad = _fill(spool, 2)
    bad.write_bytes(bad.read_bytes()[:100])
    report = Uploader(spool, MemoryStore(), POLICY).drain_once()
    assert report.quarantined == [bad.name] and report.uploaded == [good.name]
    assert [p.name for p in spool.quarantined()] == [bad.name]


def test_wrong_confirmation_keeps_the_bundle(spool: Spool) -> None:
    [path] = _fill(spool, 1)
    report = Uploader(spool, MemoryStore(confirm_wrong=True), POLICY).drain_once()
    assert report.failed == [path.name] and spool.bundles() == [path]
    assert "different checksum" in spool.entry(path).last_error
