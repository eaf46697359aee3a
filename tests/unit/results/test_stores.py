"""Store keys and tags, S3 sanitising, and the local directory store."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.builders import T0, archive_bytes, filled_writer
from waddleperf.results.atomic import sha256_file
from waddleperf.results.manifest import Manifest
from waddleperf.results.stores import (
    Store,
    StoreError,
    bundle_tags,
    check_key,
    hive_key,
)
from waddleperf.results.stores.local import META_SUFFIX, LocalStore
from waddleperf.results.stores.s3 import s3_metadata, s3_tags


def _manifest(**kw: Any) -> Manifest:
    return filled_writer(None, **kw).manifest(T0 + timedelta(minutes=1))


def test_hive_key_partitions_by_date_and_agent() -> None:
    m = _manifest(run_id="abc123")
    assert hive_key(m) == "v1/date=2026-11-21/agent=agent-1/abc123.tar.gz"
    odd = m.model_copy(update={"agent": "lab/agent 1", "run_id": ".."})
    assert hive_key(odd) == "v1/date=2026-11-21/agent=lab%2Fagent%201/%2E%2E.tar.gz"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a"])
def test_keys_cannot_escape(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


def test_bundle_tags_from_geo_and_tiers() -> None:
    m = _manifest(geo={"scope": "public", "country": "DE", "asn": 64500})
    assert bundle_tags(m) == {
        "country": "DE",
        "asn": "64500",
        "tier": "2",
        "agent": "agent-1",
        "status": "degraded",
    }
    private = _manifest(geo={"scope": "private"}, tiers=[3])
    assert bundle_tags(private)["country"] == "private" and bundle_tags(private)["tier"] == "3"
    unavailable = _manifest(geo={"scope": "public", "geo": "unavailable"})
    assert bundle_tags(unavailable)["country"] == "unknown"


def test_s3_tag_and_metadata_sanitising() -> None:
    tags = s3_tags({"agent": "host#1 (lab)", "aws:x": "y", "org": "Ü-Net, Inc. " + "x" * 300})
    assert tags["agent"] == "host_1 _lab_" and "x-aws:x" in tags
    assert tags["org"].startswith("Ü-Net_ Inc. ") and len(tags["org"]) == 256
    assert len(s3_tags({f"k{i}": "v" for i in range(12)})) == 10
    meta = s3_metadata({"Run_ID": "r1", "agent": "zürich"})
    assert meta == {"run-id": "r1", "agent": "z%C3%BCrich"}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "b.tar.gz"
    path.write_bytes(archive_bytes(filled_writer(None)))
    return path


def test_local_store_put_head_list_and_idempotence(tmp_path: Path, bundle: Path) -> None:
    store = LocalStore(tmp_path / "store")
    assert isinstance(store, Store) and store.list() == []
    sha, key = sha256_file(bundle), "v1/date=2026-11-21/agent=a/r.tar.gz"
    assert store.head(key) is None
    first = store.put(bundle, key, sha, {"country": "DE"}, {"sha256": sha})
    assert not first.skipped and first.verified and store.head(key) == sha
    assert (tmp_path / "store" / key).read_bytes() == bundle.read_bytes()
    sidecar = json.loads((tmp_path / "store" / (key + META_SUFFIX)).read_text())
    assert sidecar == {"tags": {"country": "DE"}, "metadata": {"sha256": sha}}
    assert store.put(bundle, key, sha, {}, {}).skipped
    assert store.list() == [key] and store.list("v1/date=2026-11-22") == []
    assert not list((tmp_path / "store").rglob("*.tmp"))


def test_local_store_rejects_bytes_that_do_not_match(tmp_path: Path, bundle: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with pytest.raises(StoreError, match="not the expected"):
        store.put(bundle, "k/x.tar.gz", "0" * 64, {}, {})
    assert store.head("k/x.tar.gz") is None and not list((tmp_path / "store").rglob("*.tmp"))


def test_local_store_replaces_a_damaged_copy(tmp_path: Path, bundle: Path) -> None:
    store = LocalStore(tmp_path / "store")
    sha = sha256_file(bundle)
    store.put(bundle, "k/x.tar.gz", sha, {}, {})
    (tmp_path / "store" / "k/x.tar.gz").write_bytes(b"bit rot")
    assert not store.put(bundle, "k/x.tar.gz", sha, {}, {}).skipped
    assert store.head("k/x.tar.gz") == sha


def test_local_store_sweeps_only_stale_temp_files(tmp_path: Path, bundle: Path) -> None:
    store = LocalStore(tmp_path / "store")
    directory = tmp_path / "store" / "k"
    directory.mkdir(parents=True)
    stale, fresh = directory / ".old.tar.gz.1.aa.tmp", directory / ".new.tar.gz.2.bb.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"partial")
    os.utime(stale, (1, 1))
    store.put(bundle, "k/x.tar.gz", sha256_file(bundle), {}, {})
    assert not stale.exists() and fresh.exists()
