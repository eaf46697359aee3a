"""SIGKILL at random moments: the spool never holds a partial bundle, and a killed uploader
leaves every bundle stored exactly once after a restart."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from tests.support.builders import T0, write_bundle
from tests.support.net import wait_until
from tests.support.s3support import AWS_ENV, Fault, FaultProxy, Moto, admin_client, stored_keys
from waddleperf.results.atomic import sha256_file
from waddleperf.results.reader import read_manifest, verify_bundle
from waddleperf.results.spool import Spool
from waddleperf.results.stores import hive_key

ROOT = Path(__file__).resolve().parents[3]


def _child(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **AWS_ENV, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.results.children", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def test_sigkill_mid_write_never_leaves_a_partial_bundle(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    rng = random.Random(20261121)
    temp_seen = 0
    checked: set[Path] = set()
    for _ in range(10):
        proc = _child("writer", str(spool_dir))
        try:
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            _kill(proc)
        temp_seen += len(list(spool_dir.glob(".*.tmp")))
        for bundle in set(spool_dir.glob("*.tar.gz")) - checked:
            verify_bundle(bundle)  # every finished name is a complete, valid bundle
            checked.add(bundle)
    assert temp_seen > 0, "no kill landed mid-write; the test proved nothing"
    with Spool(spool_dir, min_free_bytes=0) as spool:  # the next agent cleans up
        assert not list(spool_dir.glob(".*.tmp"))
        assert len(spool.bundles()) > 0


def test_sigkill_mid_upload_then_restart_stores_each_bundle_once(
    tmp_path: Path, moto: Moto, bucket: str, proxy: FaultProxy
) -> None:
    spool_dir = tmp_path / "spool"
    with Spool(spool_dir, min_free_bytes=0) as spool:
        paths = [
            write_bundle(spool, run_id=f"k{i}", started_at=T0 + timedelta(minutes=i)).path
            for i in range(4)
        ]
    expected = {hive_key(read_manifest(p)): sha256_file(p) for p in paths if p is not None}

    def puts() -> int:
        return sum(1 for method, _ in proxy.log.started if method == "PUT")

    # Kill while S3 still waits for the body, then while the stored object's answer is held.
    for fault in (Fault(count=1, delay_before_s=5, methods=frozenset({"PUT"})),
                  Fault(count=1, delay_after_s=5, methods=frozenset({"PUT"}))):  # fmt: skip
        proxy.faults[:] = [fault]
        before = puts()
        proc = _child("uploader", str(spool_dir), proxy.url, bucket)
        try:
            assert wait_until(lambda: puts() > before, 20)  # noqa: B023 — used at once
            time.sleep(0.2)
        finally:
            _kill(proc)
        assert len(list(spool_dir.glob("*.tar.gz"))) >= 2  # it was killed mid-way
    proc = _child("uploader", str(spool_dir), moto.url, bucket)
    try:
        assert proc.wait(timeout=30) == 0
    finally:
        _kill(proc)
    assert list(spool_dir.glob("*.tar.gz")) == []
    keys = stored_keys(moto.url, bucket)
    assert keys == sorted(expected)  # each exactly once
    s3 = admin_client(moto.url)
    for key, sha in expected.items():
        assert s3.head_object(Bucket=bucket, Key=key)["Metadata"]["sha256"] == sha


def test_killed_agent_releases_the_spool(
    spool_factory: Callable[..., Spool], tmp_path: Path
) -> None:
    proc = _child("writer", str(tmp_path / "spool"))
    _kill(proc)
    assert spool_factory().bundles() is not None  # the kernel dropped the dead agent's flock
