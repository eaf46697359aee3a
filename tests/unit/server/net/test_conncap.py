"""Per-source accounting keys and counters: IPv4 as is, IPv6 by /64, v4-mapped as IPv4."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from waddleperf_server.net.conncap import SourceCounter, source_key, source_of


def test_ipv4_is_its_address_and_the_port_is_dropped() -> None:
    assert source_key(("203.0.113.9", 40000)) == "203.0.113.9"
    assert source_key(("203.0.113.9", 40001)) == source_key(("203.0.113.9", 40000))
    assert source_key(("203.0.113.10", 1)) != source_key(("203.0.113.9", 1))


def test_ipv6_addresses_of_one_64_share_a_key() -> None:
    a = source_key(("2001:db8:1:2::1", 1, 0, 0))
    b = source_key(("2001:db8:1:2:ffff:ffff:ffff:fffe", 2, 0, 0))
    assert a == b == "2001:db8:1:2::/64"
    assert source_key(("2001:db8:1:3::1", 1, 0, 0)) == "2001:db8:1:3::/64"


def test_v4_mapped_is_ipv4_and_zone_and_brackets_are_dropped() -> None:
    assert source_key(("::ffff:127.0.0.5", 1, 0, 0)) == "127.0.0.5"
    assert source_key(("fe80::1%lo", 1, 0, 1)) == "fe80::/64"
    assert source_key(("::1", 1, 0, 0)) == "::/64"


def test_unparsable_hosts_are_kept_verbatim() -> None:
    assert source_key(("not-an-ip:x", 1)) == "not-an-ip:x"
    assert source_key("/run/sock") == "/run/sock"


@given(st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1))
def test_every_address_of_a_64_folds_to_that_64(value: int, low: int) -> None:
    addr = ipaddress.IPv6Address(value)
    if addr.ipv4_mapped is not None:
        return
    sibling = ipaddress.IPv6Address((value >> 64 << 64) | low)
    if sibling.ipv4_mapped is not None:
        return
    assert source_of(addr) == source_of(sibling) == str(ipaddress.ip_network(f"{addr}/64", False))


def test_counter_caps_each_source_and_forgets_at_zero() -> None:
    counter = SourceCounter(limit=2)
    v6 = [source_key((f"2001:db8::{i}", 1, 0, 0)) for i in range(3)]
    assert [counter.acquire(k) for k in v6] == [True, True, False]  # one /64, one cap
    assert counter.acquire("192.0.2.1")
    assert len(counter) == 2
    counter.release(v6[0])
    counter.release(v6[1])
    assert counter.count(v6[0]) == 0 and len(counter) == 1
