"""Reports straight from S3: moto's server on loopback, bundles put there by the S3 store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.integration.report.conftest import COUNT, report
from tests.support.s3support import Moto, fake_aws
from waddleperf.results.reader import read_manifest
from waddleperf.results.stores import bundle_metadata, bundle_tags, hive_key
from waddleperf.results.stores.s3 import S3Config, S3Store


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with pytest.MonkeyPatch.context() as mp:
        fake_aws(mp)
        server = Moto().start()
        try:
            yield server
        finally:
            server.stop()


def test_report_from_s3_equals_the_local_one(moto: Moto, fleet: Path, tmp_path: Path) -> None:
    client = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}))  # fmt: skip
    client.create_bucket(Bucket="fleet")
    store = S3Store(S3Config(bucket="fleet", prefix="lab/results", endpoint_url=moto.url,
                             region="us-east-1", addressing_style="path"))  # fmt: skip
    for path in sorted(fleet.rglob("*.tar.gz")):
        manifest = read_manifest(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        store.put(path, hive_key(manifest), sha, bundle_tags(manifest),
                  bundle_metadata(manifest, sha))  # fmt: skip
    # one object whose bytes no longer match the checksum its metadata records
    first = sorted(fleet.rglob("*.tar.gz"))[0]
    client.put_object(Bucket="fleet", Key="lab/results/v1/forged.tar.gz",
                      Body=first.read_bytes()[:-10], Metadata={"sha256": "0" * 64})  # fmt: skip
    url = "s3://fleet/lab/results"
    s3_out, local_out = tmp_path / "s3", tmp_path / "local"
    run = report(url, "--endpoint-url", moto.url, "--catalog", tmp_path / "a.duckdb",
                 "--out", s3_out)  # fmt: skip
    assert run.code == 0, run.stderr
    local = report(fleet, "--catalog", tmp_path / "b.duckdb", "--out", local_out)
    remote_doc, local_doc = run.summary(s3_out), local.summary(local_out)
    assert remote_doc["totals"] == local_doc["totals"] and remote_doc["totals"]["bundles"] == COUNT
    assert remote_doc["probes"] == local_doc["probes"]
    assert remote_doc["data_quality"]["skipped"] == 1
    (skipped,) = remote_doc["data_quality"]["bundles"]
    assert skipped["source"] == "s3://fleet/lab/results/v1/forged.tar.gz"
    assert "differs from the store's" in skipped["reason"]
    # incremental against S3 too: nothing is fetched again
    again = report(url, "--endpoint-url", moto.url, "--catalog", tmp_path / "a.duckdb",
                   "--sql", "SELECT count(*) AS n FROM bundles", "--format", "json")  # fmt: skip
    assert "0 new ingested" in again.stderr and json.loads(again.stdout) == [{"n": COUNT}]


def test_a_missing_bucket_is_one_line(moto: Moto, tmp_path: Path) -> None:
    run = report("s3://no-such-bucket/x", "--endpoint-url", moto.url, "--catalog",
                 tmp_path / "c.duckdb")  # fmt: skip
    assert run.code == 2 and "cannot list" in run.stderr and "Traceback" not in run.stderr
    bad = report("s3://x", "--catalog", tmp_path / "c.duckdb")
    assert bad.code == 2 and "s3://BUCKET" in bad.stderr
