"""The lab: client — router 1 — … — router N — server, each a network namespace, veth links.

Link ``i`` (0..N) joins node ``i`` and node ``i + 1`` (node 0 is the client, node N + 1 the
server) with 10.250.i.0/24 and fd00:250:0:i::/64; the node nearer the client is ``.1`` / ``::1``.
Every node's interface toward the client is ``eth-c`` and toward the server ``eth-s``.
Routers forward with static routes, so each router is one real hop (TTL − 1).

Impairments are set per link and direction (``up`` = client → server, ``down`` = back) and may be
changed while traffic flows: see :meth:`Lab.set_link`.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from tests.lab.netlab.impair import LossTable, Shaping, set_shaping
from tests.lab.netlab.lifecycle import (
    LIVE,
    PREFIX,
    cleanup_stale,
)
from tests.lab.netlab.ns import Namespace
from tests.lab.netlab.tunpath import TUN_DOWN, TUN_UP, DelayerDied, DelayerHandle

Direction = Literal["up", "down"]


@dataclass(frozen=True)
class Impairment:
    """What one direction of one link does to packets. Zero/None means "not impaired".

    rate_mbit/queue_bytes/burst_bytes: tc tbf on the sender's egress; loss_pct: nftables random
    drop in the adjacent router; delay_ms/jitter_ms (uniform ± jitter, order kept),
    duplicate_pct, reorder_pct: the TUN delayer in the adjacent router.
    """

    rate_mbit: float | None = None
    queue_bytes: int | None = None
    burst_bytes: int | None = None
    loss_pct: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    duplicate_pct: float = 0.0
    reorder_pct: float = 0.0

    def needs_delayer(self) -> bool:
        """True if this takes the user-space delayer (anything but rate and loss)."""
        return bool(self.delay_ms or self.jitter_ms or self.duplicate_pct or self.reorder_pct)

    def stage(self) -> dict[str, float]:
        """This link-direction's stage for the delayer."""
        return {
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
            "duplicate_pct": self.duplicate_pct,
            "reorder_pct": self.reorder_pct,
        }


@dataclass
class Node:
    """One namespace of the lab with its role and addresses."""

    ns: Namespace
    role: str  # "client", "r1".., "server"
    index: int
    addrs: dict[str, tuple[str, str]] = field(default_factory=dict)  # ifname → (v4, v6)

    @property
    def name(self) -> str:
        """The namespace name (for ``ip netns exec``)."""
        return self.ns.name


def link_addr(link: int, side: int, v6: bool = False) -> str:
    """Address of the ``side`` (1 = client end, 2 = server end) of lab link ``link``."""
    if v6:
        return str(ipaddress.ip_address(f"fd00:250:0:{link:x}::{side}"))  # canonical form
    return f"10.250.{link}.{side}"


class Lab:
    """A built topology. Use as a context manager; :meth:`close` is idempotent and total."""

    def __init__(self, routers: int = 1, ipv6: bool = True, seed: int | None = None) -> None:
        if not 1 <= routers <= 250:
            raise ValueError(f"routers must be within 1..250, got {routers}")
        self.routers_count = routers
        self.ipv6 = ipv6
        self.seed = seed
        self.tag = f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
        # Made by build(), so a Lab that is never built leaves nothing behind.
        self.workdir = Path(tempfile.gettempdir()) / self.tag
        self.client = Node(Namespace(f"{self.tag}-c"), "client", 0)
        self.routers = [
            Node(Namespace(f"{self.tag}-r{k}"), f"r{k}", k) for k in range(1, routers + 1)
        ]
        self.server = Node(Namespace(f"{self.tag}-s"), "server", routers + 1)
        self.impairments: dict[tuple[int, Direction], Impairment] = {}
        self.delayers: dict[int, DelayerHandle] = {}
        self._loss = {r.index: LossTable(r.ns) for r in self.routers}
        self._lock = threading.RLock()
        self._closed = False
        self._built = False
        for node in self.nodes:
            node.ns.watchdog = self.check

    # -- shape ---------------------------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        """Client, routers in order, server."""
        return [self.client, *self.routers, self.server]

    @property
    def links(self) -> int:
        """Number of links (routers + 1)."""
        return self.routers_count + 1

    @property
    def client_ip(self) -> str:
        """The client's IPv4 address."""
        return link_addr(0, 1)

    @property
    def server_ip(self) -> str:
        """The server's IPv4 address."""
        return link_addr(self.routers_count, 2)

    @property
    def client_ip6(self) -> str:
        """The client's IPv6 address."""
        return link_addr(0, 1, v6=True)

    @property
    def server_ip6(self) -> str:
        """The server's IPv6 address."""
        return link_addr(self.routers_count, 2, v6=True)

    def router_ip(self, k: int, v6: bool = False) -> str:
        """Router ``k``'s client-side address: the one traceroute from the client shows."""
        return link_addr(k - 1, 2, v6)

    def hops(self, v6: bool = False) -> list[str]:
        """The addresses a traceroute from the client must show, in order (routers, server)."""
        return [self.router_ip(k, v6) for k in range(1, self.routers_count + 1)] + [
            self.server_ip6 if v6 else self.server_ip
        ]

    # -- build ---------------------------------------------------------------------------
    def build(self) -> Lab:
        """Create namespaces, links, addresses and routes. On any error everything is removed."""
        cleanup_stale()
        LIVE.add(self)
        try:
            self.workdir.mkdir(mode=0o700)
            for node in self.nodes:
                node.ns.create()
                self._sysctls(node)
            for i in range(self.links):
                self._link(i)
            for node in self.nodes:
                self._routes(node)
            self._warm_up()
        except BaseException:
            self.close()
            raise
        self._built = True
        return self

    def _warm_up(self) -> None:
        """Ping end to end once per family so neighbour caches are filled before tests measure.

        The first IPv6 neighbour solicitation on a fresh veth can be lost, which costs a 1 s
        retransmit; a measurement must not pay it. It also proves the routes are right.
        """
        targets = [self.server_ip] + ([self.server_ip6] if self.ipv6 else [])
        for target in targets:
            for _attempt in range(5):
                proc = self.client.ns.run(["ping", "-n", "-c", "1", "-W", "2", target], check=False)
                if proc.returncode == 0:
                    break
            else:
                raise RuntimeError(f"lab {self.tag}: {target} unreachable from the client")

    def _sysctls(self, node: Node) -> None:
        keys = [
            # Addresses must work at once (no DAD wait) and reverse-path checks would drop what
            # the delayer re-injects on its TUN device, which is not the route back to the source.
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
            # traceroute sends probes in bursts; the default ICMP rate limit would hide hops.
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv6.icmp.ratelimit=0",
        ]
        if node.role.startswith("r"):
            keys += [
                "net.ipv4.ip_forward=1",
                "net.ipv6.conf.all.forwarding=1",
                "net.ipv4.conf.all.send_redirects=0",
                "net.ipv4.conf.default.send_redirects=0",
            ]
        node.ns.run(["sysctl", "-q", "-w", *keys])

    def _link(self, i: int) -> None:
        left, right = self.nodes[i], self.nodes[i + 1]
        # Created inside the left namespace with its peer inside the right one: nothing ever
        # appears in the root namespace, and names only need to be unique per namespace.
        left.ns.run(
            ["ip", "link", "add", "eth-s", "type", "veth", "peer", "name", "eth-c",
             "netns", right.name]
        )  # fmt: skip
        for node, ifname, side in ((left, "eth-s", 1), (right, "eth-c", 2)):
            v4, v6 = link_addr(i, side), link_addr(i, side, v6=True)
            node.ns.run(["ip", "addr", "add", f"{v4}/24", "dev", ifname])
            if self.ipv6:
                node.ns.run(["ip", "-6", "addr", "add", f"{v6}/64", "dev", ifname, "nodad"])
            node.ns.run(["ip", "link", "set", ifname, "up"])
            node.addrs[ifname] = (v4, v6)

    def _routes(self, node: Node) -> None:
        fams = [False, True] if self.ipv6 else [False]
        for v6 in fams:
            fam = "-6" if v6 else "-4"
            if node.role == "client":
                node.ns.run(["ip", fam, "route", "add", "default", "via", link_addr(0, 2, v6)])
            elif node.role == "server":
                gw = link_addr(self.routers_count, 1, v6)
                node.ns.run(["ip", fam, "route", "add", "default", "via", gw])
            else:
                k = node.index
                for j in range(self.links):
                    if j in (k - 1, k):
                        continue  # directly connected
                    gw = link_addr(k - 1, 1, v6) if j < k - 1 else link_addr(k, 2, v6)
                    net = ipaddress.ip_network(f"{link_addr(j, 1, v6)}/{64 if v6 else 24}", False)
                    node.ns.run(["ip", fam, "route", "add", str(net), "via", gw])

    # -- impairments ---------------------------------------------------------------------
    def set_link(self, link: int, direction: Direction | Literal["both"] = "both",
                 **changes: Any) -> None:  # fmt: skip
        """Change the impairment of one link (0..routers) in one or both directions, live.

        Keyword arguments are :class:`Impairment` fields; unspecified fields keep their value.
        Example: ``lab.set_link(0, "up", delay_ms=20, loss_pct=5)``.
        """
        if not 0 <= link < self.links:
            raise ValueError(f"link must be within 0..{self.links - 1}, got {link}")
        dirs: list[Direction] = ["up", "down"] if direction == "both" else [direction]
        with self._lock:
            for d in dirs:
                old = self.impairments.get((link, d), Impairment())
                new = replace(old, **changes)
                self.impairments[(link, d)] = new
                self._apply(link, d, old, new)

    def set_mtu(self, link: int, mtu: int) -> None:
        """Set the MTU of both ends of one link (the routers then answer "too big" for it)."""
        if not 0 <= link < self.links:
            raise ValueError(f"link must be within 0..{self.links - 1}, got {link}")
        self.nodes[link].ns.run(["ip", "link", "set", "eth-s", "mtu", str(mtu)])
        self.nodes[link + 1].ns.run(["ip", "link", "set", "eth-c", "mtu", str(mtu)])

    def impairment(self, link: int, direction: Direction) -> Impairment:
        """The impairment in force on one link-direction."""
        return self.impairments.get((link, direction), Impairment())

    def clear(self) -> None:
        """Remove every impairment (delayers keep running as plain pass-through)."""
        for link, d in list(self.impairments):
            self.set_link(link, d, **vars(Impairment()))

    def _apply(self, link: int, d: Direction, old: Impairment, new: Impairment) -> None:
        sender = self.nodes[link] if d == "up" else self.nodes[link + 1]
        if (old.rate_mbit, old.queue_bytes, old.burst_bytes) != (
            new.rate_mbit, new.queue_bytes, new.burst_bytes
        ):  # fmt: skip
            shaping = None
            if new.rate_mbit:
                shaping = Shaping(new.rate_mbit, new.queue_bytes, new.burst_bytes)
            set_shaping(sender.ns, "eth-s" if d == "up" else "eth-c", shaping)
        if old.loss_pct != new.loss_pct:
            router, match, ifname = self._loss_point(link, d)
            self._loss[router].set(match, ifname, new.loss_pct)
        if old.stage() != new.stage():
            self._push_stages(self._delay_router(link, d))

    def _loss_point(self, link: int, d: Direction) -> tuple[int, str, str]:
        """(router, nft match, interface) where link-direction packets are forwarded."""
        n = self.routers_count
        if d == "up":
            return (link + 1, "iifname", "eth-c") if link < n else (n, "oifname", "eth-s")
        return (link, "iifname", "eth-s") if link >= 1 else (1, "oifname", "eth-c")

    def _delay_router(self, link: int, d: Direction) -> int:
        """The router whose delayer emulates this link-direction's delay."""
        if d == "up":
            return min(link + 1, self.routers_count)
        return max(link, 1)

    def _push_stages(self, k: int) -> None:
        """Send router k's delayer its stages for both directions, in the order packets go."""
        n = self.routers_count
        up_links = [k - 1] + ([n] if k == n else [])
        down_links = [k] + ([0] if k == 1 else [])
        stages = {
            TUN_UP: [self.impairment(i, "up") for i in up_links],
            TUN_DOWN: [self.impairment(i, "down") for i in down_links],
        }
        wanted = any(imp.needs_delayer() for imps in stages.values() for imp in imps)
        if k not in self.delayers:
            if not wanted:
                return
            self.start_delayer(k)
        for tun, imps in stages.items():
            active = [imp.stage() for imp in imps if imp.needs_delayer()]
            self.delayers[k].set_stages(tun, active)

    def start_delayer(self, k: int) -> DelayerHandle:
        """Route router k's forwarded traffic through a delayer (idempotent); return its handle."""
        with self._lock:
            if k not in self.delayers:
                seed = None if self.seed is None else self.seed + k
                self.delayers[k] = DelayerHandle.start(self.routers[k - 1].ns, self.workdir, seed)
            return self.delayers[k]

    def loss_drops(self) -> dict[str, int]:
        """Packets dropped by the random-loss rules so far, keyed ``rK:match:ifname``."""
        out: dict[str, int] = {}
        for k, table in self._loss.items():
            for (match, ifname), count in table.drops().items():
                out[f"r{k}:{match}:{ifname}"] = count
        return out

    # -- health and teardown -------------------------------------------------------------
    def check(self) -> None:
        """Raise DelayerDied if a delayer has crashed (called around every lab command)."""
        if self._closed:
            return
        for handle in list(self.delayers.values()):
            handle.check()

    def close(self) -> None:
        """Stop every process and delete every namespace and temp file. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        errors: list[str] = []
        for handle in self.delayers.values():
            try:
                handle.stop()
            except Exception as exc:
                errors.append(f"delayer {handle.ns.name}: {exc}")
        for node in self.nodes:
            try:
                node.ns.delete()
            except Exception as exc:
                errors.append(f"{node.name}: {exc}")
        shutil.rmtree(self.workdir, ignore_errors=True)
        LIVE.discard(self)
        if errors:
            raise RuntimeError("lab teardown incomplete: " + "; ".join(errors))

    def __enter__(self) -> Lab:
        return self if self._built else self.build()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["DelayerDied", "Impairment", "Lab", "Node", "link_addr"]
