"""Which targets the UI may probe: an admin's allow-list of networks and host names.

Pure (no name is resolved: a name is allowed only when listed, so a DNS answer cannot widen
the list). An empty policy allows every target the probe's model accepts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from waddleperf.probes.targets import TargetError, parse_endpoint, parse_url


@dataclass(frozen=True)
class TargetPolicy:
    """Allowed networks (``10.0.0.0/8``, ``::1/128``) and host names; both empty: all."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    hosts: tuple[str, ...] = ()

    @classmethod
    def parse(cls, networks: Iterable[str] = (), hosts: Iterable[str] = ()) -> TargetPolicy:
        """From config text; ValueError naming a bad network."""
        nets = []
        for text in networks:
            try:
                nets.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ValueError(f"allowed networks: {text!r} is not a network") from None
        return cls(tuple(nets), tuple(h.strip().lower().rstrip(".") for h in hosts))

    @property
    def open(self) -> bool:
        """Whether every target is allowed."""
        return not self.networks and not self.hosts

    def check(self, target: str) -> None:
        """ValueError naming ``target`` when the policy does not allow it."""
        if self.open:
            return
        try:
            host = parse_url(target).host if "://" in target else parse_endpoint(
                target, default_port=1).host  # fmt: skip
        except TargetError as exc:
            raise ValueError(f"target: {exc}") from None
        if host.family == "name":
            if host.name.lower().rstrip(".") in self.hosts:
                return
        else:
            address = ipaddress.ip_address(host.name.split("%")[0])
            if any(address in net for net in self.networks):
                return
        raise ValueError(f"target: {target!r} is not among the targets this UI may probe")
