"""Uploader against S3 faults on real sockets: endpoint gone and back, 500s, slow answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from tests.support.builders import T0, write_bundle
from tests.support.s3support import Fault, FaultProxy, Moto, admin_client, store_for, stored_keys
from waddleperf.results.spool import Spool
from waddleperf.results.uploader import PassReport, RetryPolicy, Uploader

FAST = RetryPolicy(base_s=0.1, cap_s=0.4, jitter=0.5, max_failures_per_pass=2)


def _fill(spool: Spool, n: int) -> list[Path]:
    paths = [
        write_bundle(spool, run_id=f"f{i}", started_at=T0 + timedelta(minutes=i)).path
        for i in range(n)
    ]
    return [p for p in paths if p is not None]


def _drain(up: Uploader, timeout: float = 15.0) -> list[PassReport]:
    """Run passes, sleeping until the next back-off ends, until the spool is empty."""
    reports: list[PassReport] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports.append(up.drain_once())
        if reports[-1].drained:
            return reports
        due = reports[-1].next_due
        time.sleep(min(0.5, max(0.01, (due or 0) - time.time())))
    raise AssertionError(f"spool not drained within {timeout} s: {reports[-1]}")


def _uploaded(reports: list[PassReport]) -> list[str]:
    return [name for r in reports for name in r.uploaded + r.already_stored]


def test_endpoint_gone_then_back(
    tmp_path: Path, bucket: str, spool_factory: Callable[..., Spool]
) -> None:
    moto = Moto().start()
    try:
        spool = spool_factory()
        paths = _fill(spool, 3)
        store = store_for(moto.url, bucket, connect_timeout_s=0.5, client_attempts=1)
        # Slow enough that a loaded machine cannot outrun the back-off between two passes.
        up = Uploader(spool, store, RetryPolicy(base_s=1.0, cap_s=1.0, max_failures_per_pass=2))
        moto.stop()
        first = up.drain_once()
        # A store failure ends the pass: the newer ones are not tried behind the oldest.
        assert first.failed == [paths[0].name] and first.deferred == [p.name for p in paths[1:]]
        assert spool.bundles() == paths  # nothing lost
        assert "Could not connect" in spool.entry(paths[0]).last_error
        # Immediately again: the untried ones are due, so the oldest goes first (a probe, not
        # counted as an attempt: its back-off holds), fails, and ends the pass again.
        second = up.drain_once()
        assert second.failed == [paths[0].name] and second.deferred == first.deferred
        assert spool.entry(paths[0]).attempts == 1
        time.sleep(1.0)
        up.drain_once()
        assert spool.entry(paths[0]).attempts == 2
        moto.start()  # same port, same bucket (moto keeps its state in the process)
        reports = _drain(up)
        assert sorted(_uploaded(reports)) == [p.name for p in paths]
        assert len(stored_keys(moto.url, bucket)) == 3 and spool.bundles() == []
    finally:
        moto.stop()


def test_server_errors_are_retried_later(
    moto: Moto, bucket: str, proxy: FaultProxy, spool_factory: Callable[..., Spool]
) -> None:
    spool = spool_factory()
    paths = _fill(spool, 3)
    proxy.inject(Fault(count=5, status=500))
    up = Uploader(spool, store_for(proxy.url, bucket, client_attempts=1), FAST)
    first = up.drain_once()
    assert first.failed == [paths[0].name]  # a store failure ends the pass
    assert "(500)" in spool.entry(paths[0]).last_error
    reports = [first, *_drain(up)]
    assert sorted(_uploaded(reports)) == [p.name for p in paths]
    assert [s for _, _, s in proxy.log.requests].count(500) == 5
    assert len(stored_keys(moto.url, bucket)) == 3


def test_botocore_retries_absorb_a_single_500(
    moto: Moto, bucket: str, proxy: FaultProxy, spool_factory: Callable[..., Spool]
) -> None:
    spool = spool_factory()
    [path] = _fill(spool, 1)
    proxy.inject(Fault(count=1, status=500, methods=frozenset({"PUT"})))
    up = Uploader(spool, store_for(proxy.url, bucket, client_attempts=2), FAST)
    report = up.drain_once()
    assert report.uploaded == [path.name] and report.drained


def test_slow_answers_time_out_and_retry_finds_the_object(
    moto: Moto, bucket: str, proxy: FaultProxy, spool_factory: Callable[..., Spool]
) -> None:
    spool = spool_factory()
    paths = _fill(spool, 2)
    # S3 stores the first bundle, but its answer comes after the client's read timeout.
    proxy.inject(Fault(count=1, delay_after_s=1.5, methods=frozenset({"PUT"})))
    store = store_for(proxy.url, bucket, read_timeout_s=0.5, client_attempts=1)
    up = Uploader(spool, store, FAST)
    first = up.drain_once()
    assert first.failed == [paths[0].name] and first.deferred == [paths[1].name]
    assert "timeout" in spool.entry(paths[0]).last_error.lower()
    reports = _drain(up)
    assert sorted(_uploaded(reports)) == [paths[0].name, paths[1].name]
    assert paths[0].name in reports[-1].already_stored  # found by checksum, not sent again
    keys = stored_keys(moto.url, bucket)
    assert len(keys) == 2
    s3 = admin_client(moto.url)
    assert all(s3.head_object(Bucket=bucket, Key=k)["Metadata"]["sha256"] for k in keys)
