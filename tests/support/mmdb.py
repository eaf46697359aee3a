"""Small City and ASN .mmdb files in the GeoLite2 and the DB-IP lite layouts.

Only documentation/test ranges and the lab's 10.250.0.0/16 are in the data; nothing is
contacted — these are database contents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet  # type: ignore[import-untyped,unused-ignore]

BERLIN = ("192.0.2.0/24", "2001:db8:1::/48")
PARIS = ("198.51.100.0/24",)
LAB = ("10.250.0.0/16",)


def _names(en: str) -> dict[str, str]:
    return {"en": en, "de": en + " (de)"}


def _geolite_city(city: str, region: str, cc: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "city": {"geoname_id": 1, "names": _names(city)},
        "continent": {"code": "EU", "geoname_id": 6255148, "names": _names("Europe")},
        "country": {"geoname_id": 2, "iso_code": cc, "names": _names(cc)},
        "registered_country": {"geoname_id": 2, "iso_code": cc, "names": _names(cc)},
        "subdivisions": [{"geoname_id": 3, "iso_code": "XX", "names": _names(region)}],
        "location": {
            "accuracy_radius": 20,
            "latitude": lat,
            "longitude": lon,
            "time_zone": "Europe/Berlin",
        },
        "postal": {"code": "10115"},
    }


def _dbip_city(city: str, region: str, cc: str, lat: float, lon: float) -> dict[str, Any]:
    # DB-IP lite: same structure, fewer fields (no geoname ids for city/region, no accuracy).
    return {
        "city": {"names": _names(city)},
        "continent": {"code": "EU", "geoname_id": 6255148, "names": _names("Europe")},
        "country": {
            "geoname_id": 2,
            "is_in_european_union": True,
            "iso_code": cc,
            "names": _names(cc),
        },
        "location": {"latitude": lat, "longitude": lon},
        "subdivisions": [{"names": _names(region)}],
    }


def write_mmdb(
    path: Path, db_type: str, rows: list[tuple[tuple[str, ...], dict[str, Any]]]
) -> Path:
    writer = MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type=db_type, languages=["en", "de"]
    )
    for networks, record in rows:
        writer.insert_network(IPSet(list(networks)), record)
    writer.to_db_file(str(path))
    return path


def build(directory: Path, layout: str) -> tuple[Path, Path]:
    """City and ASN databases in ``layout`` ``geolite2`` or ``dbip``; returns their paths."""
    city = _geolite_city if layout == "geolite2" else _dbip_city
    city_type, asn_type = (
        ("GeoLite2-City", "GeoLite2-ASN")
        if layout == "geolite2"
        else ("DBIP-City-Lite", "DBIP-ASN-Lite (compat=GeoLite2-ASN)")
    )
    city_db = write_mmdb(
        directory / f"{layout}-city.mmdb",
        city_type,
        [
            (BERLIN, city("Berlin", "Land Berlin", "DE", 52.5244, 13.4105)),
            (PARIS, city("Paris", "Île-de-France", "FR", 48.8534, 2.3488)),
            (LAB, city("Labtown", "Lab Region", "NL", 52.3676, 4.9041)),
        ],
    )
    asn_db = write_mmdb(
        directory / f"{layout}-asn.mmdb",
        asn_type,
        [
            (
                BERLIN,
                {
                    "autonomous_system_number": 64500,
                    "autonomous_system_organization": "Example Net",
                },
            ),
            (
                LAB,
                {
                    "autonomous_system_number": 64511,
                    "autonomous_system_organization": "Lab Transit",
                },
            ),
        ],
    )
    return city_db, asn_db
