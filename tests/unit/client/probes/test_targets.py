"""Target validation: names, literals, brackets, ports, URLs, with clear errors."""

from __future__ import annotations

import pytest

from waddleperf.probes.targets import TargetError, parse_endpoint, parse_host, parse_port, parse_url


@pytest.mark.parametrize(
    ("text", "name", "family"),
    [
        ("127.0.0.1", "127.0.0.1", "ipv4"),
        ("::1", "::1", "ipv6"),
        ("[::1]", "::1", "ipv6"),
        ("[2001:DB8::1]", "2001:db8::1", "ipv6"),
        ("Example.COM.", "example.com", "name"),
        ("localhost", "localhost", "name"),
        ("a-b.lab.test", "a-b.lab.test", "name"),
    ],
)
def test_parse_host_ok(text, name, family):
    host = parse_host(text)
    assert (host.name, host.family) == (name, family)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("-bad.example", "label"),
        ("bad_.example", "label"),
        ("a..b", "label"),
        ("256.1.1.1", "IPv4"),
        ("[127.0.0.1]", "IPv6"),
        ("fe80::zz", "IPv6"),
        ("x" * 64 + ".com", "label"),
    ],
)
def test_parse_host_errors(text, fragment):
    with pytest.raises(TargetError, match=fragment):
        parse_host(text)


@pytest.mark.parametrize(
    ("text", "default", "host", "port"),
    [
        ("127.0.0.1:80", None, "127.0.0.1", 80),
        ("[::1]:8080", None, "::1", 8080),
        ("[::1]", 22, "::1", 22),
        ("::1", 22, "::1", 22),
        ("lab.test", 53, "lab.test", 53),
    ],
)
def test_parse_endpoint(text, default, host, port):
    ep = parse_endpoint(text, default)
    assert (ep.host.name, ep.port) == (host, port)


def test_endpoint_str_brackets_v6():
    assert str(parse_endpoint("[::1]:7")) == "[::1]:7"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("127.0.0.1:0", "outside"),
        ("127.0.0.1:65536", "outside"),
        ("127.0.0.1:http", "not a number"),
        ("[::1", "without"),
        ("[::1]x", "expected"),
        ("127.0.0.1", "port is needed"),
    ],
)
def test_parse_endpoint_errors(text, fragment):
    with pytest.raises(TargetError, match=fragment):
        parse_endpoint(text)


def test_parse_port():
    assert parse_port("65535") == 65535
    with pytest.raises(TargetError):
        parse_port(-1)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("http://127.0.0.1:8080/echo?delay_ms=5", "http://127.0.0.1:8080/echo?delay_ms=5"),
        ("https://[::1]/", "https://[::1]/"),
        ("HTTPS://Lab.Test:443", "https://lab.test/"),
    ],
)
def test_parse_url(text, want):
    assert str(parse_url(text)) == want


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ftp://x/", "only http"),
        ("127.0.0.1", "only http"),
        ("http:///x", "no host"),
        ("http://u:p@h/", "credentials"),
        ("http://h:99999/", "range|outside"),
        ("http://bad_host/", "label"),
    ],
)
def test_parse_url_errors(text, fragment):
    with pytest.raises(TargetError, match=fragment):
        parse_url(text)
