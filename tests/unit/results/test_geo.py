"""Geo tags: address parsing and scopes (pure), lookups in GeoLite2 and DB-IP lite layouts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.mmdb import build, write_mmdb
from waddleperf.results.geo import GeoTagger, scope_of
from waddleperf_common.addresses import leading_ip

LAB_AND_DOCS = ("10.250.0.0/16", "192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32")


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("8.8.8.8", "public"),
        ("2a00:1450:4001:80b::200e", "public"),
        ("127.0.0.1 - localhost IPv4 access", "loopback"),
        ("::1 - localhost IPv6 access", "loopback"),
        ("[::1]", "loopback"),
        ("fe80::1%eth0 - link-local IPv6 access", "link-local"),
        ("169.254.10.1", "link-local"),
        ("100.64.1.2", "cgnat"),
        ("10.250.0.2 - private IPv4 access", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("192.0.2.7 - Example Net, DE (312 km)", "documentation"),
        ("2001:db8::1", "documentation"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("not an address", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_scopes(text: str | None, scope: str) -> None:
    assert scope_of(leading_ip(text)) == scope


def test_non_public_addresses_are_tagged_not_looked_up() -> None:
    with GeoTagger() as geo:
        assert geo.tags("10.250.0.2 - private IPv4 access") == {
            "scope": "private",
            "geo": "not-looked-up",
        }
        assert geo.tags(None) == {"scope": "unknown", "geo": "not-looked-up"}


@pytest.mark.parametrize("layout", ["geolite2", "dbip"])
def test_lookups_in_both_layouts(tmp_path: Path, layout: str) -> None:
    city_db, asn_db = build(tmp_path, layout)
    with GeoTagger(city_db, asn_db, treat_as_public=LAB_AND_DOCS) as geo:
        assert geo.tags("192.0.2.7 - Example Net, DE (312 km)") == {
            "scope": "public",
            "geo": "ok",
            "country": "DE",
            "region": "Land Berlin",
            "city": "Berlin",
            "latitude": 52.5,
            "longitude": 13.4,
            "asn": 64500,
            "organisation": "Example Net",
        }
        v6 = geo.tags("2001:db8:1::42")
        assert (v6["city"], v6["asn"]) == ("Berlin", 64500)
        paris = geo.tags("198.51.100.9")  # in City but not in ASN
        assert paris["region"] == "Île-de-France" and "asn" not in paris and paris["geo"] == "ok"
        lab = geo.tags("::ffff:10.250.3.4")
        assert (lab["country"], lab["asn"], lab["organisation"]) == ("NL", 64511, "Lab Transit")
        assert geo.tags("2001:db8:ffff::1") == {"scope": "public", "geo": "not-found"}


def test_coordinate_precision_is_configurable(tmp_path: Path) -> None:
    city_db, _ = build(tmp_path, "geolite2")
    with GeoTagger(city_db, coordinate_decimals=3, treat_as_public=LAB_AND_DOCS) as geo:
        assert (geo.tags("192.0.2.1")["latitude"], geo.tags("192.0.2.1")["longitude"]) == (
            52.524,
            13.411,
        )
    with GeoTagger(city_db, coordinate_decimals=None, treat_as_public=LAB_AND_DOCS) as geo:
        assert "latitude" not in geo.tags("192.0.2.1")


def test_missing_or_corrupt_database_warns_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    city_db, _ = build(tmp_path, "geolite2")
    corrupt = tmp_path / "corrupt.mmdb"
    corrupt.write_bytes(b"\x00" * 4096)
    truncated = tmp_path / "truncated.mmdb"
    truncated.write_bytes(city_db.read_bytes()[:200])
    caplog.set_level(logging.WARNING)
    for bad in (tmp_path / "missing.mmdb", corrupt, truncated):
        with GeoTagger(bad, bad, treat_as_public=LAB_AND_DOCS) as geo:
            tags = geo.tags("192.0.2.1")
        assert tags["scope"] == "public" and tags["geo"] == "unavailable"
        assert str(bad) in caplog.text
    with GeoTagger(city_db, tmp_path / "missing.mmdb", treat_as_public=LAB_AND_DOCS) as geo:
        partial = geo.tags("192.0.2.1")
    assert partial["geo"] == "partial" and partial["city"] == "Berlin" and "asn" not in partial


def test_a_database_of_another_layout_is_unavailable_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    odd = write_mmdb(tmp_path / "odd.mmdb", "Other-DB", [(("192.0.2.0/24",), {"country": "DE"})])
    caplog.set_level(logging.WARNING)
    with GeoTagger(odd, treat_as_public=LAB_AND_DOCS) as geo:
        tags = geo.tags("192.0.2.1")
    assert tags["geo"] == "unavailable" and "lookup" in caplog.text
