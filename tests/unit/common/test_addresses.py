"""The one normal form of an IP address that client and server share."""

from __future__ import annotations

import ipaddress

import pytest

from waddleperf_common.addresses import leading_ip, parse_ip, unmapped


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("  192.0.2.1\t", "192.0.2.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),  # a dual-stack socket's IPv4 peer
        ("::ffff:7f00:1", "127.0.0.1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[::1]:8080", "::1"),
        ("[::ffff:10.0.0.1]:80", "10.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("::", "::"),
    ],
)
def test_normal_form(text: str, normal: str) -> None:
    assert str(parse_ip(text)) == normal


@pytest.mark.parametrize(
    "text",
    ["", "   ", "not-an-ip", "192.0.2.1:80", "[::1", "::1]", "256.0.0.1", "1.2.3", "%eth0", "[]"],
)
def test_not_an_address(text: str) -> None:
    assert parse_ip(text) is None


def test_unmapped_leaves_other_addresses_alone() -> None:
    v4 = ipaddress.ip_address("10.0.0.1")
    v6 = ipaddress.ip_address("2001:db8::1")
    compat = ipaddress.ip_address("::10.0.0.1")  # IPv4-compatible, not mapped: stays IPv6
    assert unmapped(v4) is v4 and unmapped(v6) is v6 and unmapped(compat) is compat
    assert unmapped(ipaddress.ip_address("::ffff:10.0.0.1")) == v4


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("203.0.113.7 - Example ISP, DE", "203.0.113.7"),
        ("::ffff:10.0.0.1 - private IPv4 access", "10.0.0.1"),
        ("fe80::1%eth0 - link-local IPv6 access", "fe80::1"),
        ("[::1]", "::1"),
        ("  8.8.8.8  ", "8.8.8.8"),
    ],
)
def test_leading_address(text: str, normal: str) -> None:
    assert str(leading_ip(text)) == normal


@pytest.mark.parametrize("text", [None, "", "  ", "Example ISP 203.0.113.7", "- 10.0.0.1"])
def test_no_leading_address(text: str | None) -> None:
    assert leading_ip(text) is None
