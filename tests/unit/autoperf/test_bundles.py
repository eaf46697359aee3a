"""The production sink: one bundle per cycle into the spool, stored by the uploader, geo-tagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.support.mmdb import build
from tests.unit.autoperf.fakes import make_config
from waddleperf.autoperf.bundles import BundleSink
from waddleperf.autoperf.events import event_record
from waddleperf.autoperf.policy import Transition
from waddleperf.results.reader import read_bundle


def test_a_cycle_becomes_a_stored_geo_tagged_bundle(tmp_path: Path) -> None:
    city, asn = build(tmp_path, "geolite2")
    cfg = make_config(
        tmp_path,
        geoip={
            "city_db": str(city),
            "asn_db": str(asn),
            "public_ip": "192.0.2.10",
            "treat_as_public": ["192.0.2.0/24"],
        },
        storage={"spool_dir": str(tmp_path / "spool"), "store": {"dir": str(tmp_path / "store")}},
        agent={"id": "a1", "labels": {"site": "x"}},
    )
    sink = BundleSink.from_config(cfg)
    cycle = sink.begin_cycle("a1", "r" * 32, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    cycle.add_result(event_record(Transition("lo", 1, 2, "why"), "a1", "r" * 32, "127.0.0.1"))
    cycle.add_raw("autoperf-cycle.json", json.dumps({"labels": {"site": "x"}}).encode())
    spooled = Path(cycle.finish())
    assert spooled.parent == tmp_path / "spool"
    sink.close(drain=True)
    (stored,) = (tmp_path / "store").rglob("*.tar.gz")
    assert not spooled.exists()
    bundle = read_bundle(stored)
    assert bundle.manifest.agent == "a1" and bundle.manifest.tiers == [2]
    assert bundle.manifest.geo.get("scope") == "public"
    assert bundle.manifest.geo.get("geo") == "ok", bundle.manifest.geo
    assert [r.kind for r in bundle.results] == ["autoperf.event"]


def test_without_databases_geo_says_so(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, storage={"spool_dir": str(tmp_path / "spool"),
                                         "store": {"dir": str(tmp_path / "store")}})  # fmt: skip
    sink = BundleSink.from_config(cfg)
    cycle = sink.begin_cycle("a1", "s" * 32, datetime(2026, 1, 2, tzinfo=UTC))
    cycle.finish()
    sink.close(drain=False)
    (left,) = [*(tmp_path / "spool").glob("*.tar.gz"), *(tmp_path / "store").rglob("*.tar.gz")]
    assert read_bundle(left).manifest.geo.get("geo") == "not-looked-up"


def test_storage_and_geo_settings_reach_the_spool_store_and_tagger(tmp_path: Path) -> None:
    from waddleperf.autoperf.bundles import make_store
    from waddleperf.results.stores.s3 import S3Store

    s3 = {"bucket": "wp-bundles", "endpoint_url": "http://127.0.0.1:9", "region": "us-east-1",
          "addressing_style": "path", "read_timeout_s": 7, "verify_tls": False}  # fmt: skip
    cfg = make_config(
        tmp_path,
        storage={"spool_dir": str(tmp_path / "spool"), "spool_max_bytes": 2 << 20,
                 "spool_min_free_bytes": 0, "store": {"kind": "s3", "s3": s3}},
        geoip={"coordinate_decimals": 3},
    )  # fmt: skip
    store = make_store(cfg)
    assert isinstance(store, S3Store)
    assert store.config is cfg.storage.store.s3  # the config's section, not a copy of it
    assert (store.config.addressing_style, store.config.read_timeout_s) == ("path", 7)
    assert store.config.verify_tls is False
    (tmp_path / "b").mkdir()
    local = make_config(tmp_path / "b", geoip={"coordinate_decimals": 3})
    sink = BundleSink.from_config(local)
    try:
        assert (sink.spool.max_bytes, sink.spool.min_free_bytes) == (1 << 30, 64 << 20)
        assert sink.tagger.coordinate_decimals == 3
    finally:
        sink.close(drain=False)
