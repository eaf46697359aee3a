"""Geo-IP tags for a bundle, from the agent's public address and City/ASN databases.

The address comes from the server (LibreSpeed ``getIP.php`` ``processedString``, e.g.
``"203.0.113.7 - Example ISP, DE"``, or our ``/ip``) or from configuration. Lookups use
geoip2's record models over :mod:`maxminddb` readers, so any database with the GeoLite2 City
and ASN structure works: MaxMind GeoLite2/GeoIP2 and DB-IP lite alike.

Tags: ``scope``, ``geo`` (``ok``, ``partial``, ``not-found``, ``unavailable``, ``not-looked-up``)
and, where known, ``country``, ``region``, ``city``, ``latitude``/``longitude`` (rounded,
1 decimal ≈ 11 km by default, for privacy), ``asn`` and ``organisation``. The address itself
is not kept. Nothing here raises for a bad address or a bad database: those become tags and
a logged warning.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geoip2.models
import maxminddb

from waddleperf.results.manifest import GeoValue
from waddleperf_common.addresses import IPAddress, leading_ip

log = logging.getLogger("waddleperf.results.geo")

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)


def scope_of(address: IPAddress | None) -> str:
    """``public`` or why not: loopback, link-local, cgnat, private, documentation,
    multicast, unspecified, reserved; ``unknown`` when there is no usable address."""
    if address is None:
        return "unknown"
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.version == 4 and address in _CGNAT, "cgnat"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (any(address in net for net in _DOCUMENTATION), "documentation"),
        (address.is_reserved, "reserved"),  # 240/4 counts as "private" to ipaddress
        (address.is_private, "private"),
        (address.is_global, "public"),
    )
    return next((name for hit, name in checks if hit), "reserved")


def _open(path: Path | None, what: str) -> maxminddb.Reader | None:
    if path is None:
        return None
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, RuntimeError) as exc:
        # InvalidDatabaseError is a RuntimeError; a geo problem must never stop measuring.
        log.warning("geo: %s database %s unusable, geo tags unavailable: %s", what, path, exc)
        return None


class GeoTagger:
    """City and ASN databases opened once; :meth:`tags` is cheap and never raises."""

    def __init__(
        self,
        city_db: Path | None = None,
        asn_db: Path | None = None,
        *,
        coordinate_decimals: int | None = 1,
        treat_as_public: Iterable[str] = (),
    ) -> None:
        """``coordinate_decimals`` None leaves coordinates out. ``treat_as_public`` lists
        networks to look up even though they are not global (a lab's simulated internet)."""
        self.coordinate_decimals = coordinate_decimals
        self.treat_as_public = tuple(ipaddress.ip_network(n) for n in treat_as_public)
        self._city = _open(city_db, "City")
        self._asn = _open(asn_db, "ASN")
        #: Databases configured but unusable: their tags are missing, say so.
        self._broken = (city_db is not None and self._city is None) or (
            asn_db is not None and self._asn is None
        )

    def close(self) -> None:
        """Close the database files."""
        for reader in (self._city, self._asn):
            if reader is not None:
                reader.close()

    def __enter__(self) -> GeoTagger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lookup(self, reader: maxminddb.Reader | None, address: IPAddress) -> dict[str, Any] | None:
        if reader is None:
            return None
        record, _prefix = reader.get_with_prefix_len(address)
        return record if isinstance(record, dict) else None

    def _round(self, value: float | None) -> float | None:
        if value is None or self.coordinate_decimals is None:
            return None
        return round(value, self.coordinate_decimals)

    def _fields(
        self, ip: str, city: dict[str, Any] | None, asn: dict[str, Any] | None
    ) -> dict[str, GeoValue]:
        found: dict[str, GeoValue] = {}
        if city is not None:
            model = geoip2.models.City(["en"], ip_address=ip, prefix_len=0, **city)
            found["country"] = model.country.iso_code
            found["region"] = model.subdivisions[0].name if model.subdivisions else None
            found["city"] = model.city.name
            found["latitude"] = self._round(model.location.latitude)
            found["longitude"] = self._round(model.location.longitude)
        if asn is not None:
            model_asn = geoip2.models.ASN(ip, prefix_len=0, **asn)
            found["asn"] = model_asn.autonomous_system_number
            found["organisation"] = model_asn.autonomous_system_organization
        return {k: v for k, v in found.items() if v is not None and v != ""}

    def tags(self, address_text: str | None) -> dict[str, GeoValue]:
        """Geo tags for the address at the start of ``address_text``."""
        address = leading_ip(address_text)
        scope = scope_of(address)
        if address is not None and any(address in net for net in self.treat_as_public):
            scope = "public"
        tags: dict[str, GeoValue] = {"scope": scope}
        if scope != "public" or address is None:
            tags["geo"] = "not-looked-up"
            return tags
        if self._city is None and self._asn is None:
            tags["geo"] = "unavailable"
            tags["reason"] = "database missing or unreadable" if self._broken else "no database"
            return tags
        try:
            city = self._lookup(self._city, address)
            asn = self._lookup(self._asn, address)
            tags.update(self._fields(str(address), city, asn))
        except (ValueError, RuntimeError, OSError, TypeError, AttributeError, KeyError) as exc:
            # A damaged file or a record of another layout: no tags, but the cycle goes on.
            log.warning("geo: lookup of the agent's address failed: %s", exc)
            tags.update(geo="unavailable", reason="database lookup failed")
            return tags
        if city is None and asn is None:
            tags["geo"] = "not-found"
        elif self._broken:
            tags["geo"] = "partial"
        else:
            tags["geo"] = "ok"
        return tags
