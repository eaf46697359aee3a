"""The agent's whole path: geo tags → bundle → spool → uploader thread → store → reader."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.builders import escalation, make_result, profiling_lines
from tests.support.mmdb import build
from tests.support.net import wait_until
from tests.support.s3support import Moto, admin_client, store_for
from waddleperf.results.bundle import BundleWriter
from waddleperf.results.geo import GeoTagger
from waddleperf.results.reader import read_bundle
from waddleperf.results.spool import Spool
from waddleperf.results.stores import Store
from waddleperf.results.stores.local import LocalStore
from waddleperf.results.uploader import RetryPolicy, Uploader


def _cycle(spool: Spool, geo: GeoTagger, run_id: str, tier: int) -> None:
    # What an AutoPerf cycle does: learn the public address, tag, collect, finalize.
    writer = BundleWriter(
        spool,
        agent="lab-agent",
        run_id=run_id,
        tiers=range(1, tier + 1),
        geo=geo.tags("10.250.0.7 - Lab Transit, NL"),
    )
    writer.add_result(make_result(tier=tier, run_id=run_id))
    if tier > 1:
        writer.add_result(escalation(tier))
    writer.add_profiling(profiling_lines(3))
    writer.add_raw("ping.txt", b"3 packets transmitted, 3 received\n")
    assert writer.finalize().accepted


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_cycles_reach_the_store_with_geo_tags(
    backend: str,
    tmp_path: Path,
    spool_factory: Callable[..., Spool],
    moto: Moto,
    bucket: str,
) -> None:
    store: Store = (
        LocalStore(tmp_path / "store") if backend == "local" else store_for(moto.url, bucket)
    )
    city_db, asn_db = build(tmp_path, "dbip")
    spool = spool_factory()
    up = Uploader(spool, store, RetryPolicy(base_s=0.05, cap_s=0.1))
    thread = threading.Thread(target=up.run, kwargs={"idle_s": 5.0}, daemon=True)
    thread.start()
    try:
        with GeoTagger(city_db, asn_db, treat_as_public=["10.250.0.0/16"]) as geo:
            for i in range(3):
                _cycle(spool, geo, f"cycle{i}", tier=i + 1)
                up.notify()
        assert wait_until(lambda: not spool.bundles() and len(store.list()) == 3, 15)
    finally:
        up.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()

    keys = store.list()
    assert all(k.startswith("v1/date=2026-") and "/agent=lab-agent/" in k for k in keys)
    last = tmp_path / "last.tar.gz"
    key = next(k for k in keys if k.endswith("cycle2.tar.gz"))
    if isinstance(store, LocalStore):
        last.write_bytes((store.root / key).read_bytes())
    else:
        s3 = admin_client(moto.url)
        last.write_bytes(s3.get_object(Bucket=bucket, Key=f"waddle/{key}")["Body"].read())
        tags = s3.get_object_tagging(Bucket=bucket, Key=f"waddle/{key}")["TagSet"]
        assert {t["Key"]: t["Value"] for t in tags} == {
            "country": "NL",
            "asn": "64511",
            "tier": "3",
            "agent": "lab-agent",
            "status": "ok",
        }
    bundle = read_bundle(last)
    assert bundle.manifest.geo == {
        "scope": "public",
        "geo": "ok",
        "country": "NL",
        "region": "Lab Region",
        "city": "Labtown",
        "latitude": 52.4,
        "longitude": 4.9,
        "asn": 64511,
        "organisation": "Lab Transit",
    }
    assert bundle.manifest.tiers == [1, 2, 3] and len(bundle.results) == 2
