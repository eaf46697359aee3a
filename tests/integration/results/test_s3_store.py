"""S3 store against a real S3 endpoint on loopback (moto server): layout, tags, metadata,
checksum confirmation, idempotent re-upload."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.builders import write_bundle
from tests.support.s3support import Fault, FaultProxy, Moto, admin_client, store_for, stored_keys
from waddleperf.results.atomic import sha256_file
from waddleperf.results.reader import read_bundle, read_manifest
from waddleperf.results.spool import Spool
from waddleperf.results.stores import Store, StoreError, bundle_tags, hive_key
from waddleperf.results.uploader import RetryPolicy, Uploader


@pytest.fixture
def bundle(spool_factory: Callable[..., Spool]) -> Path:
    receipt = write_bundle(spool_factory(), geo={"scope": "public", "country": "DE", "asn": 64500})
    assert receipt.path is not None
    return receipt.path


def test_put_head_list_tags_and_metadata(
    moto: Moto, bucket: str, bundle: Path, tmp_path: Path
) -> None:
    store = store_for(moto.url, bucket)
    assert isinstance(store, Store)
    manifest = read_manifest(bundle)
    key, sha = hive_key(manifest), sha256_file(bundle)
    assert store.head(key) is None
    tags = {**bundle_tags(manifest), "agent": "lab host #1"}
    confirmation = store.put(bundle, key, sha, tags, {"run-id": "run-1", "bundle-format": "1"})
    assert confirmation.verified and not confirmation.skipped
    assert confirmation.location == f"s3://{bucket}/waddle/{key}"
    assert store.head(key) == sha and store.list() == [key] and store.list("v1/date=2030") == []
    assert stored_keys(moto.url, bucket) == [f"waddle/{key}"]

    s3 = admin_client(moto.url)
    head = s3.head_object(Bucket=bucket, Key=f"waddle/{key}")
    assert head["Metadata"] == {"sha256": sha, "run-id": "run-1", "bundle-format": "1"}
    assert head["ContentType"] == "application/gzip"
    tagset = {
        t["Key"]: t["Value"]
        for t in s3.get_object_tagging(Bucket=bucket, Key=f"waddle/{key}")["TagSet"]
    }
    assert tagset == {
        "country": "DE",
        "asn": "64500",
        "tier": "2",
        "agent": "lab host _1",
        "status": "degraded",
    }
    copy = tmp_path / "copy.tar.gz"
    copy.write_bytes(s3.get_object(Bucket=bucket, Key=f"waddle/{key}")["Body"].read())
    assert read_bundle(copy).sha256 == sha


def test_reupload_is_skipped_by_checksum(
    moto: Moto, bucket: str, bundle: Path, proxy: FaultProxy
) -> None:
    store = store_for(proxy.url, bucket)
    key, sha = "v1/date=2026-11-21/agent=a/r.tar.gz", sha256_file(bundle)
    store.put(bundle, key, sha, {}, {})
    puts = [m for m, _ in proxy.log.started if m == "PUT"]
    again = store.put(bundle, key, sha, {}, {})
    assert again.skipped and [m for m, _ in proxy.log.started if m == "PUT"] == puts
    assert stored_keys(moto.url, bucket) == [f"waddle/{key}"]


def test_a_different_object_under_the_key_is_replaced(
    moto: Moto, bucket: str, bundle: Path
) -> None:
    store = store_for(moto.url, bucket, prefix="")
    key = "v1/date=2026-11-21/agent=a/r.tar.gz"
    admin_client(moto.url).put_object(Bucket=bucket, Key=key, Body=b"stale")
    assert store.head(key) == ""  # present, but carries no checksum of ours
    sha = sha256_file(bundle)
    assert not store.put(bundle, key, sha, {}, {}).skipped
    assert store.head(key) == sha


def test_unconfirmed_put_keeps_the_bundle_then_retry_finds_it(
    moto: Moto, bucket: str, bundle: Path, proxy: FaultProxy, spool_factory: Callable[..., Spool]
) -> None:
    store = store_for(proxy.url, bucket, client_attempts=1)
    spool = spool_factory()
    up = Uploader(spool, store, RetryPolicy(base_s=0.01, cap_s=0.01, jitter=0))
    # First HEAD (is it there?) passes, the PUT lands, the confirming HEAD gets a 500.
    proxy.inject(Fault(count=1, methods=frozenset({"HEAD"})))  # passes through
    proxy.inject(Fault(count=1, status=500, methods=frozenset({"HEAD"})))
    first = up.drain_once()
    assert first.failed == [bundle.name] and spool.bundles() == [bundle]
    assert "HeadObject" in spool.entry(bundle).last_error
    proxy.faults.clear()
    time.sleep(0.02)
    second = up.drain_once()
    assert second.already_stored == [bundle.name] and second.drained
    assert len(stored_keys(moto.url, bucket)) == 1


def test_missing_bucket_is_a_store_error(moto: Moto, bundle: Path) -> None:
    store = store_for(moto.url, "no-such-bucket-here")
    with pytest.raises(StoreError, match="no-such-bucket-here"):
        store.put(bundle, "v1/x.tar.gz", sha256_file(bundle), {}, {})
