"""Which probes a tier runs against a server, with what options (pure: config in, steps out).

Each probe name knows how to aim at a WaddlePerf server (host, the right port, the HTTP base
URL); the tier's ``options`` are laid over that. A step that cannot be aimed (dns for an IP
literal with no name configured, ssh with no ssh section, a port set to 0) is skipped with
the reason — a configuration choice, not a failure. :func:`check` validates every tier's
probes against each probe's own options model before the agent runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from waddleperf.autoperf.config import TIERS, AutoPerfConfig, ProbeSpec, ServerTarget, Tiers
from waddleperf.probes import base as probes


@dataclass(frozen=True)
class Step:
    """One probe run: for ``server`` in ``tier``, labelled ``name``, with ``options``."""

    server: str
    tier: int
    name: str
    probe: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        """What the probe is aimed at (for records of runs that never started)."""
        return str(self.options.get("target") or self.server)


@dataclass(frozen=True)
class Skipped:
    """A step left out by configuration, and why."""

    server: str
    tier: int
    name: str
    reason: str


Aim = Callable[[ServerTarget], dict[str, Any] | str]


def _port(service: str, extra: Callable[[ServerTarget], dict[str, Any]] | None = None) -> Aim:
    def aim(s: ServerTarget) -> dict[str, Any] | str:
        port = getattr(s.ports, service)
        if not port:
            return f"ports.{service} is 0"
        return {"target": s.host, "port": port, **(extra(s) if extra else {})}

    return aim


def _http(path: str) -> Aim:
    def aim(s: ServerTarget) -> dict[str, Any] | str:
        return {"target": s.base_url + path} if s.ports.http else "ports.http is 0"

    return aim


def _rpm(s: ServerTarget) -> dict[str, Any] | str:
    if not s.ports.http:
        return "ports.http is 0"
    # its iperf load mode needs the server's iperf port; harmless otherwise
    return {"target": s.base_url + "/", **({"iperf_port": s.ports.iperf} if s.ports.iperf else {})}


def _dns(s: ServerTarget) -> dict[str, Any] | str:
    name = s.resolve_name
    if name is None:
        return f"host {s.host} is an address; set dns_name to resolve a name"
    return {"target": name, "resolvers": list(s.dns_resolvers)}


def _ssh(s: ServerTarget) -> dict[str, Any] | str:
    if s.ssh is None:
        return "no ssh section for this server"
    opts: dict[str, Any] = {"target": s.host, "port": s.ssh.port}
    for key in ("user", "key_file", "password_env", "known_hosts"):
        value = getattr(s.ssh, key)
        if value is not None:
            opts[key] = str(value)
    return opts


def _udp_key(s: ServerTarget) -> dict[str, Any]:
    return {"key_env": s.udp_key_env} if s.udp_key_env else {}


#: How each known probe aims at a server; any other probe gets ``{"target": host}``.
AIMS: dict[str, Aim] = {
    "tcp": _port("tcp_echo"),
    "udp": _port("udp_echo", _udp_key),
    "iperf": _port("iperf"),
    "http": _http("/echo"),
    "speedtest": _http("/backend/"),
    "rpm": _rpm,
    "dns": _dns,
    "ssh": _ssh,
}


def plan_tier(
    server: ServerTarget, tier: int, specs: Sequence[ProbeSpec]
) -> tuple[list[Step], list[Skipped]]:
    """The steps of ``tier`` for ``server`` (in configured order) and those skipped."""
    steps: list[Step] = []
    skipped: list[Skipped] = []
    for spec in specs:
        aim = AIMS.get(spec.probe)
        aimed = aim(server) if aim else {"target": server.host}
        if isinstance(aimed, str):
            skipped.append(Skipped(server.label, tier, spec.name, aimed))
            continue
        steps.append(Step(server.label, tier, spec.name, spec.probe, {**aimed, **spec.options}))
    return steps, skipped


def _tier_specs(tiers: Tiers) -> list[tuple[str, Sequence[ProbeSpec]]]:
    return [(f"tier{n}", tiers.tier(n).probes) for n in TIERS]


def _aimed(server: ServerTarget, probe: str) -> dict[str, Any]:
    # A step skipped for this server is still checked, aimed like an unknown probe.
    aim = AIMS.get(probe)
    aimed = aim(server) if aim else {"target": server.host}
    return {"target": server.host} if isinstance(aimed, str) else aimed


def _errors(model: type[BaseModel], data: dict[str, Any]) -> list[ErrorDetails]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return exc.errors()
    return []


def _key(err: ErrorDetails) -> tuple[tuple[int | str, ...], str]:
    return tuple(err["loc"]), err["msg"]


def _describe(path: str, spec: ProbeSpec, err: ErrorDetails, fields: Iterable[str]) -> str:
    loc = err["loc"]
    msg = err["msg"].removeprefix("Value error, ")
    if not loc:
        return f"{path}.options: {spec.options!r}: {msg}"
    key = ".".join(str(p) for p in loc)
    value = spec.options.get(str(loc[0]), err.get("input"))
    if err["type"] == "extra_forbidden":
        takes = f"{spec.probe} takes: {', '.join(sorted(fields))}"
        return f"{path}.options.{key}: unknown option {loc[0]!s} = {value!r} ({takes})"
    return f"{path}.options.{key}: invalid value {value!r}: {msg}"


def check(cfg: AutoPerfConfig) -> list[str]:
    """Every tier's probes against the probe registry and each probe's own options model.

    Each step is validated as it will run: aimed at each server, the tier's ``options`` laid
    over. Only faults the tier's entry brings in are reported (a fault of the aim alone, such
    as a server's unset HMAC-key variable, stays a failed record at run time). Each error names
    the key (``tiers.tier1.probes[0].options.cnt``) and the value. Imports the probe modules.
    """
    found: list[str] = []
    for tier, specs in _tier_specs(cfg.tiers):
        for index, spec in enumerate(specs):
            path = f"tiers.{tier}.probes[{index}]"
            try:
                model = probes.get(spec.probe).options_model
            except probes.UnknownProbeError:
                known = ", ".join(probes.names())
                found.append(f"{path}.probe: unknown probe {spec.probe!r} (known: {known})")
                continue
            for server in cfg.servers:
                aimed = _aimed(server, spec.probe)
                alone = {_key(e) for e in _errors(model, aimed)}
                for err in _errors(model, {**aimed, **spec.options}):
                    if _key(err) not in alone:
                        line = _describe(path, spec, err, model.model_fields)
                        if line not in found:
                            found.append(line)
    return found
