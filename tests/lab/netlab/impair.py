"""Kernel-side impairments: rate and queue size with tc tbf, random loss with nftables.

The kernel here has no netem, so delay, jitter, duplication and reordering live in the TUN
delayer (delayer.py); what the kernel can do exactly (token bucket, random drop) stays here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tests.lab.netlab.ns import Namespace

LOSS_SCALE = 1_000_000  # numgen modulus: loss resolution of 0.0001 %
NFT_TABLE = "wpl"
NFT_CHAIN = "loss"  # "fwd" would clash with an nft keyword


@dataclass(frozen=True)
class Shaping:
    """A token bucket on one interface's egress.

    ``rate_mbit`` is counted on whole frames as the qdisc sees them (IP packet + 14-byte
    Ethernet header), so TCP goodput is about 1448/1514 of it. ``queue_bytes`` is how much may
    wait behind the bucket (the "buffer" of the emulated bottleneck); ``burst_bytes`` the bucket.
    """

    rate_mbit: float
    queue_bytes: int | None = None
    burst_bytes: int | None = None

    def tc_args(self) -> list[str]:
        """The ``tbf`` arguments for ``tc qdisc replace``."""
        if self.rate_mbit <= 0:
            raise ValueError(f"rate_mbit must be > 0, got {self.rate_mbit}")
        bytes_per_s = self.rate_mbit * 1e6 / 8
        # At least two full frames, else tbf can never pass a 1514-byte packet at low rates; 2 ms
        # of traffic at high rates so timer granularity does not cap the rate below the setting.
        burst = self.burst_bytes or max(3200, int(bytes_per_s * 0.002))
        queue = self.queue_bytes if self.queue_bytes is not None else int(bytes_per_s * 0.05)
        queue = max(queue, 1514)
        return [
            "tbf",
            "rate",
            f"{int(self.rate_mbit * 1e6)}bit",
            "burst",
            str(burst),
            "limit",
            str(queue),
        ]


def set_shaping(ns: Namespace, ifname: str, shaping: Shaping | None) -> None:
    """Put (or replace, or remove when None) the token bucket on ``ifname`` in ``ns``."""
    if shaping is None:
        ns.run(["tc", "qdisc", "del", "dev", ifname, "root"], check=False)
        return
    ns.run(["tc", "qdisc", "replace", "dev", ifname, "root", *shaping.tc_args()])


def qdisc_stats(ns: Namespace, ifname: str) -> dict[str, int]:
    """Bytes, packets, drops and overlimits of the root qdisc on ``ifname``."""
    out = ns.run(["tc", "-s", "-j", "qdisc", "show", "dev", ifname]).stdout
    for q in json.loads(out or "[]"):
        if q.get("root"):
            return {k: int(q.get(k, 0)) for k in ("bytes", "packets", "drops", "overlimits")}
    return {}


@dataclass
class LossTable:
    """The random-drop rules of one router, kept as state so they can be rewritten in place.

    Each rule matches the input or output interface of forwarded packets; ``numgen random`` draws
    per packet, so the drops are independent (Bernoulli), which is what the loss self-check tests.
    """

    ns: Namespace
    rules: dict[tuple[str, str], float] = field(default_factory=dict)
    _created: bool = False

    def _ensure(self) -> None:
        if self._created:
            return
        self.ns.run(["nft", "add", "table", "inet", NFT_TABLE])
        self.ns.run(
            [
                "nft",
                "add",
                "chain",
                "inet",
                NFT_TABLE,
                NFT_CHAIN,
                "{ type filter hook forward priority 0 ; policy accept ; }",
            ]
        )
        self._created = True

    def set(self, match: str, ifname: str, loss_pct: float) -> None:
        """Drop ``loss_pct`` % of forwarded packets whose ``match`` (iifname/oifname) is ifname."""
        if match not in ("iifname", "oifname"):
            raise ValueError(f"match must be iifname or oifname, got {match!r}")
        if not 0 <= loss_pct <= 100:
            raise ValueError(f"loss_pct must be within 0..100, got {loss_pct}")
        if loss_pct:
            self.rules[(match, ifname)] = loss_pct
        else:
            self.rules.pop((match, ifname), None)
        self.apply()

    def apply(self) -> None:
        """Rewrite the chain from the rules held (flush and re-add, one nft call each)."""
        if not self.rules and not self._created:
            return
        self._ensure()
        self.ns.run(["nft", "flush", "chain", "inet", NFT_TABLE, NFT_CHAIN])
        for (match, ifname), pct in sorted(self.rules.items()):
            threshold = round(pct / 100 * LOSS_SCALE)
            self.ns.run(
                [
                    "nft",
                    "add",
                    "rule",
                    "inet",
                    NFT_TABLE,
                    NFT_CHAIN,
                    match,
                    f'"{ifname}"',
                    "numgen",
                    "random",
                    "mod",
                    str(LOSS_SCALE),
                    "lt",
                    str(threshold),
                    "counter",
                    "drop",
                ]
            )

    def drops(self) -> dict[tuple[str, str], int]:
        """Packets dropped so far by each rule (from the nft counters)."""
        if not self._created:
            return {}
        out = self.ns.run(["nft", "-j", "list", "chain", "inet", NFT_TABLE, NFT_CHAIN]).stdout
        result: dict[tuple[str, str], int] = {}
        for item in json.loads(out).get("nftables", []):
            rule = item.get("rule")
            if not rule:
                continue
            key: tuple[str, str] | None = None
            count = 0
            for expr in rule.get("expr", []):
                match = expr.get("match")
                if match and "meta" in match.get("left", {}):
                    key = (str(match["left"]["meta"]["key"]), str(match["right"]))
                if "counter" in expr:
                    count = int(expr["counter"]["packets"])
            if key:
                result[key] = count
        return result
