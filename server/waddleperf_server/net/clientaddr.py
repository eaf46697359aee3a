"""Who the client is: the peer address, X-Forwarded-For from trusted proxies, and what kind
of address it is (LibreSpeed's getIP wording). Pure functions, no I/O."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from waddleperf_common.addresses import IPAddress, parse_ip

__all__ = ["IPAddress", "IPNetwork", "classify", "client_address", "parse_ip", "parse_networks"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The trusted-proxy networks (already validated by the config model)."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(addr: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def client_address(
    peer: str, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]
) -> tuple[str, bool]:
    """The client's address and whether it came from X-Forwarded-For.

    X-Forwarded-For is believed only when the TCP peer is a trusted proxy; the chain is then
    walked right to left, skipping trusted proxies, and the first untrusted hop is the client.
    A malformed hop stops the walk (anything left of it could be forged), leaving the last
    good hop. ``forwarded_for`` holds the header's values (each may be a comma list).
    """
    peer_ip = parse_ip(peer)
    if peer_ip is None:
        return peer, False
    if not trusted or not _trusted(peer_ip, trusted):
        return str(peer_ip), False
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    current = peer_ip
    for hop in reversed(hops):
        addr = parse_ip(hop)
        if addr is None:
            break
        current = addr
        if not _trusted(addr, trusted):
            break
    return str(current), current != peer_ip


_V4_KINDS: tuple[tuple[str, str], ...] = (
    ("127.0.0.0/8", "localhost IPv4 access"),
    ("10.0.0.0/8", "private IPv4 access"),
    ("172.16.0.0/12", "private IPv4 access"),
    ("192.168.0.0/16", "private IPv4 access"),
    ("169.254.0.0/16", "link-local IPv4 access"),
    ("100.64.0.0/10", "CGNAT IPv4 access"),
)
_V6_KINDS: tuple[tuple[str, str], ...] = (
    ("::1/128", "localhost IPv6 access"),
    ("fe80::/10", "link-local IPv6 access"),
    ("fc00::/7", "ULA IPv6 access"),
)
_KINDS = tuple((ipaddress.ip_network(n), label) for n, label in _V4_KINDS + _V6_KINDS)


def classify(addr: IPAddress) -> str | None:
    """LibreSpeed's description of a non-public address (``"private IPv4 access"``…).

    None for a public address, which is the only kind worth an ISP lookup.
    """
    for net, label in _KINDS:
        if addr.version == net.version and addr in net:
            return label
    return None
