"""GeoIP for getIP.php?isp=true: MaxMind City/ASN databases opened once, answers shaped like
the ipinfo.io object LibreSpeed's clients expect in ``rawIspInfo``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import maxminddb

from waddleperf_server import logs

_AS_PREFIX = re.compile(r"^AS\d+\s")


def _get(record: Any, *path: str | int) -> Any:
    node = record
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list) or len(node) <= key:
                return None
            node = node[key]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
    return node


def ipinfo_record(ip: str, city: Any, asn: Any) -> dict[str, Any]:
    """An ipinfo.io-style object from raw City and ASN records (either may be None).

    Keys with nothing to say are left out, as ipinfo does.
    """
    out: dict[str, Any] = {"ip": ip}
    fields = {
        "city": _get(city, "city", "names", "en"),
        "region": _get(city, "subdivisions", 0, "names", "en"),
        "country": _get(city, "country", "iso_code"),
        "postal": _get(city, "postal", "code"),
        "timezone": _get(city, "location", "time_zone"),
    }
    lat, lon = _get(city, "location", "latitude"), _get(city, "location", "longitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        fields["loc"] = f"{lat:.4f},{lon:.4f}"
    number = _get(asn, "autonomous_system_number")
    org = _get(asn, "autonomous_system_organization")
    if number is not None or org:
        fields["org"] = " ".join(p for p in (f"AS{number}" if number else "", org or "") if p)
    out.update({k: v for k, v in fields.items() if v})
    return out


def isp_summary(info: dict[str, Any]) -> str:
    """LibreSpeed's ``"ISP, CC"`` text: the org without its AS number, then the country."""
    org = info.get("org")
    isp = _AS_PREFIX.sub("", org) if isinstance(org, str) and org else "Unknown ISP"
    country = info.get("country")
    return f"{isp}, {country}" if country else isp


class GeoLookup:
    """City and ASN readers, opened once at start-up; a missing database is simply skipped."""

    def __init__(self, city_db: Path | None, asn_db: Path | None) -> None:
        self._city = self._open(city_db)
        self._asn = self._open(asn_db)

    @staticmethod
    def _open(path: Path | None) -> Any:
        if path is None:
            return None
        try:
            return maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            # A broken database must not stop the server; getIP then answers without ISP.
            logs.get("http").warning("cannot open GeoIP database %s: %s", path, exc)
            return None

    @property
    def available(self) -> bool:
        """Whether any database is loaded."""
        return self._city is not None or self._asn is not None

    def lookup(self, ip: str) -> dict[str, Any] | None:
        """The ipinfo-style record for ``ip``, or None without databases."""
        if not self.available:
            return None
        return ipinfo_record(ip, self._record(self._city, ip), self._record(self._asn, ip))

    @staticmethod
    def _record(reader: Any, ip: str) -> Any:
        if reader is None:
            return None
        try:
            return reader.get(ip)
        except ValueError:
            return None

    def close(self) -> None:
        """Release the database files."""
        for reader in (self._city, self._asn):
            if reader is not None:
                reader.close()
