"""IP addresses as both sides read them: one normal form for text from sockets, headers and
servers. Pure, no I/O.

The normal form drops what does not name the host: surrounding space, the brackets of a URL
or ``Host`` form (``[2001:db8::1]``, ``[::1]:8080``), an IPv6 zone (``fe80::1%eth0``), and
the IPv6 wrapping of an IPv4 address (``::ffff:192.0.2.1`` → ``192.0.2.1``, as a dual-stack
socket reports an IPv4 peer), so one host has one spelling wherever it is compared or counted.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def unmapped(address: IPAddress) -> IPAddress:
    """``address`` with an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) as the IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_ip(text: str) -> IPAddress | None:
    """The address ``text`` spells, in normal form; None when it is not an address.

    Accepted: a bare address, one in brackets (anything after the closing bracket, such as a
    port, is ignored), an IPv6 address with a zone; surrounding space is ignored.
    """
    value = text.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    value = value.split("%", 1)[0]
    try:
        return unmapped(ipaddress.ip_address(value))
    except ValueError:
        return None


def leading_ip(text: str | None) -> IPAddress | None:
    """The address at the start of ``text`` (up to the first space), in normal form.

    For texts that name an address and then describe it, like LibreSpeed's ``processedString``
    (``"203.0.113.7 - Example ISP, DE"``). None when there is none.
    """
    words = text.split() if text else []
    return parse_ip(words[0]) if words else None
