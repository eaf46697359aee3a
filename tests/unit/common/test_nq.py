"""The responsiveness configuration document: round trip and every rejection."""

from __future__ import annotations

import json

import pytest

from waddleperf_common.nq import NQConfig, NQConfigError, parse

GOOD = NQConfig(
    small_download_url="http://h/rpm/small",
    large_download_url="https://h/rpm/large",
    upload_url="http://[::1]:8080/rpm/upload",
    test_endpoint="h",
)


def test_round_trip() -> None:
    assert parse(json.dumps(GOOD.to_json())) == GOOD
    assert "test_endpoint" not in NQConfig("http://a/s", "http://a/l", "http://a/u").to_json()


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ("not json", "not JSON"),
        ("[]", "missing 'urls'"),
        ('{"urls": {}}', "urls.small_download_url"),
        ('{"urls": {"small_download_url": "ftp://x", "large_download_url": "http://x",'
         ' "upload_url": "http://x"}}', "small_download_url"),
        ('{"version": "1", "urls": {"small_download_url": "http://x",'
         ' "large_download_url": "http://x", "upload_url": "http://x"}}', "version"),
        ('{"test_endpoint": 5, "urls": {"small_download_url": "http://x",'
         ' "large_download_url": "http://x", "upload_url": "http://x"}}', "test_endpoint"),
    ],
)  # fmt: skip
def test_rejections_name_the_field(doc: str, fragment: str) -> None:
    with pytest.raises(NQConfigError, match=fragment):
        parse(doc)
