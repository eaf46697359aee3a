"""The responsiveness configuration document (draft-ietf-ippm-responsiveness, .well-known/nq)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

NQ_PATH = "/.well-known/nq"


class NQConfigError(ValueError):
    """The document does not follow the draft's configuration format."""


@dataclass(frozen=True, slots=True)
class NQConfig:
    """The three URLs a responsiveness client needs, plus the optional test endpoint."""

    small_download_url: str
    large_download_url: str
    upload_url: str
    test_endpoint: str | None = None
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        """The document as the draft lays it out."""
        doc: dict[str, Any] = {
            "version": self.version,
            "urls": {
                "small_download_url": self.small_download_url,
                "large_download_url": self.large_download_url,
                "upload_url": self.upload_url,
            },
        }
        if self.test_endpoint:
            doc["test_endpoint"] = self.test_endpoint
        return doc


def parse(text: str | bytes) -> NQConfig:
    """Parse and validate a configuration document."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NQConfigError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("urls"), dict):
        raise NQConfigError("missing 'urls' object")
    urls = doc["urls"]
    out: dict[str, str] = {}
    for key in ("small_download_url", "large_download_url", "upload_url"):
        value = urls.get(key)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
            raise NQConfigError(f"urls.{key} must be an http(s) URL, got {value!r}")
        out[key] = value
    version = doc.get("version", 1)
    if not isinstance(version, int):
        raise NQConfigError(f"version must be an integer, got {version!r}")
    endpoint = doc.get("test_endpoint")
    if endpoint is not None and not isinstance(endpoint, str):
        raise NQConfigError("test_endpoint must be a string")
    return NQConfig(version=version, test_endpoint=endpoint, **out)
