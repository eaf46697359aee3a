"""getIP.php?isp=true with real (tiny, generated) MaxMind City and ASN databases."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.httphelp import http_server
from tests.support.mmdb import write_mmdb
from waddleperf.localstack import LocalServer
from waddleperf_server import logs
from waddleperf_server.host.geo import GeoLookup

CITY: dict[str, dict[str, Any]] = {
    "203.0.113.0/24": {
        "city": {"names": {"en": "Amsterdam"}},
        "country": {"iso_code": "NL", "names": {"en": "Netherlands"}},
        "subdivisions": [{"iso_code": "NH", "names": {"en": "North Holland"}}],
        "location": {"latitude": 52.3676, "longitude": 4.9041, "time_zone": "Europe/Amsterdam"},
        "postal": {"code": "1012"},
    },
    "198.51.100.0/24": {"country": {"iso_code": "DE"}},
}
ASN: dict[str, dict[str, Any]] = {
    "203.0.113.0/24": {
        "autonomous_system_number": 64500,
        "autonomous_system_organization": "Example Transit B.V.",
    },
}


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("geo")
    city, asn = tmp / "city.mmdb", tmp / "asn.mmdb"
    write_mmdb(city, "GeoLite2-City", [((net,), rec) for net, rec in CITY.items()])
    write_mmdb(asn, "GeoLite2-ASN", [((net,), rec) for net, rec in ASN.items()])
    return city, asn


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, dbs: tuple[Path, Path]) -> Iterator[LocalServer]:
    cfg = (
        'http:\n  trusted_proxies: ["127.0.0.0/8"]\n'
        f"geoip:\n  city_db: {dbs[0]}\n  asn_db: {dbs[1]}\n"
    )
    with http_server(tmp_path_factory.mktemp("geosrv"), cfg) as s:
        yield s


def _get_ip(srv: LocalServer, client: str, query: str) -> dict[str, object]:
    r = requests.get(
        f"{srv.base_url}/backend/getIP.php?{query}",
        headers={"X-Forwarded-For": client},
        timeout=5,
    )
    assert r.status_code == 200
    doc: dict[str, object] = r.json()
    return doc


def test_lookup_reads_both_databases(dbs: tuple[Path, Path]) -> None:
    geo = GeoLookup(*dbs)
    try:
        assert geo.lookup("203.0.113.9") == {
            "ip": "203.0.113.9",
            "city": "Amsterdam",
            "region": "North Holland",
            "country": "NL",
            "postal": "1012",
            "timezone": "Europe/Amsterdam",
            "loc": "52.3676,4.9041",
            "org": "AS64500 Example Transit B.V.",
        }
        assert geo.lookup("192.0.2.1") == {"ip": "192.0.2.1"}
        assert geo.lookup("2001:db8::1") == {"ip": "2001:db8::1"}  # IPv4-only database
    finally:
        geo.close()
    assert GeoLookup(None, None).lookup("203.0.113.9") is None


def test_getip_with_isp_appends_isp_and_country(srv: LocalServer) -> None:
    doc = _get_ip(srv, "203.0.113.9", "isp=true&distance=km&r=0.5")
    assert doc["processedString"] == "203.0.113.9 - Example Transit B.V., NL"
    raw = doc["rawIspInfo"]
    assert isinstance(raw, dict)
    assert raw["org"] == "AS64500 Example Transit B.V." and raw["loc"] == "52.3676,4.9041"
    assert raw["city"] == "Amsterdam" and raw["country"] == "NL"


def test_getip_country_only_and_unknown(srv: LocalServer) -> None:
    doc = _get_ip(srv, "198.51.100.20", "isp=true")
    assert doc["processedString"] == "198.51.100.20 - Unknown ISP, DE"
    doc = _get_ip(srv, "192.0.2.77", "isp=true")
    assert doc["processedString"] == "192.0.2.77 - Unknown ISP"


def test_getip_without_isp_or_for_private_addresses(srv: LocalServer) -> None:
    assert _get_ip(srv, "203.0.113.9", "r=1") == {
        "processedString": "203.0.113.9",
        "rawIspInfo": "",
    }
    assert _get_ip(srv, "100.64.1.2", "isp=true") == {
        "processedString": "100.64.1.2 - CGNAT IPv4 access",
        "rawIspInfo": "",
    }


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_broken_database_is_skipped_not_fatal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    collect = _Collect()
    log = logs.get("http")
    log.addHandler(collect)
    try:
        geo = GeoLookup(bad, tmp_path / "missing.mmdb")
    finally:
        log.removeHandler(collect)
    assert not geo.available and geo.lookup("203.0.113.9") is None
    assert len(collect.messages) == 2
    assert all("cannot open GeoIP database" in m for m in collect.messages)
