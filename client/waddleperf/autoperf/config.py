"""AutoPerf's configuration model; the defaults live in ``waddleperf/vars/base.yml`` (package data).

Settings other modules take over (hysteresis and hold limits for the policy, the pending-bundle
bounds for the sink) have no default here: base.yml is their one source, and the consumers
derive theirs from the loaded model.

Loaded through the one layered loader (``waddleperf_common.config``): base file < user file
< ``WADDLEPERF_<KEY>`` variables < flags, validated once at start-up. Every fault is a
``ConfigError`` that names the key.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from waddleperf.autoperf.metrics.listen import MetricsConfig
from waddleperf.load.plan import LoadOptions
from waddleperf.results.stores.s3_config import S3Config
from waddleperf.web.settings import ADMIN_PASSWORD_ENV, UiConfig
from waddleperf_common.config import StrictModel, load_config

#: The agent's shipped YAML files (package data, so an installed wheel has them too).
VARS_DIR = files("waddleperf") / "vars"
BASE_FILE = VARS_DIR / "base.yml"
ENV_PREFIX = "WADDLEPERF_"
#: Variables under our prefix that belong to someone else: the server's own settings, the
#: UDP HMAC key, the load targets' APM switch.
FOREIGN_PREFIXES = ("WADDLEPERF_SERVER_", "WADDLEPERF_UDP_KEY", "WADDLEPERF_APM")
#: Exact names read elsewhere (the result model's agent name), not configuration keys.
FOREIGN_NAMES = frozenset({"WADDLEPERF_AGENT", ADMIN_PASSWORD_ENV})

TIERS = (1, 2, 3)
#: The longest load run a tier-3 target may ask for, seconds (tier 3's step time caps at 2 h).
TIER3_MAX_DURATION_S = 3600.0


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class AgentConfig(StrictModel):
    """Who this agent is: ``id`` (default: $WADDLEPERF_AGENT or the host name) and labels."""

    id: str | None = Field(default=None, min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)


class Ports(StrictModel):
    """The server's service ports; 0 means the service is not probed."""

    http: int = Field(default=8080, ge=0, le=65535)
    tcp_echo: int = Field(default=2001, ge=0, le=65535)
    udp_echo: int = Field(default=2000, ge=0, le=65535)
    iperf: int = Field(default=5201, ge=0, le=65535)


class SshTarget(StrictModel):
    """How to reach the server's sshd for the tier-2 ssh probe (secrets by reference only)."""

    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = None
    key_file: Path | None = None
    password_env: str | None = None
    known_hosts: Path | None = None


class ServerTarget(StrictModel):
    """One WaddlePerf server to probe."""

    name: str | None = Field(default=None, min_length=1)
    host: str = Field(min_length=1)
    ports: Ports = Field(default_factory=Ports)
    udp_key_env: str | None = None
    #: The variable holding the server's operator token for ``/stats`` (tier-3 profiling).
    stats_token_env: str | None = None
    #: Name the dns probe resolves; None: the host when it is a name, else no dns probe.
    dns_name: str | None = None
    #: Resolvers for the dns probe ("ip" or "ip:port"); empty: the system's.
    dns_resolvers: list[str] = Field(default_factory=list)
    #: None: no ssh probe for this server.
    ssh: SshTarget | None = None

    @property
    def label(self) -> str:
        """The server's name in records and tables (its host when unnamed)."""
        return self.name or self.host

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the server's HTTP service."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.ports.http}"

    @property
    def resolve_name(self) -> str | None:
        """What the dns probe asks for, or None when there is nothing to resolve."""
        if self.dns_name:
            return self.dns_name
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return self.host
        return None


class LoadTarget(LoadOptions):
    """A Django/Flask target loaded in tier 3 (``waddleperf load`` machinery): the plan's own
    fields, defaults and checks (``load.plan.LoadOptions``: profile, users, spawn_rate,
    duration_s, user, shape, rate, wait_s, path, workers), and where the target is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: HttpUrl
    #: The server (by name) whose ``/stats`` reports the target's processes; None: not profiled.
    stats_server: str | None = None
    stats_name: str | None = None

    @field_validator("duration_s")
    @classmethod
    def _within_a_cycle(cls, value: float | None) -> float | None:
        if value is not None and value > TIER3_MAX_DURATION_S:
            raise ValueError(
                f"a tier-3 run lasts at most {TIER3_MAX_DURATION_S:g} s, got {value:g}"
            )
        return value

    @property
    def plan(self) -> LoadOptions:
        """The load this target gets, without where it is."""
        return LoadOptions.model_validate(self.model_dump(include=set(LoadOptions.model_fields)))


class ProbeSpec(StrictModel):
    """One probe of a tier: the registered probe name, a label, extra options.

    ``target``/``port`` are filled in from the server; ``options`` adds or overrides the rest.
    At start-up :func:`waddleperf.autoperf.plan.check` validates ``probe`` and ``options``
    against the probe's own options model: a typo is a configuration error, never a breach.
    """

    probe: str = Field(min_length=1)
    label: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # "icmp" is short for {probe: icmp}
        return {"probe": value} if isinstance(value, str) else value

    @property
    def name(self) -> str:
        """What the step is called in tables and records' params."""
        return self.label or self.probe


class Tier1Thresholds(StrictModel):
    """Tier-1 limits; crossing one is a breach (None disables it)."""

    rtt_ms: float | None = Field(default=100.0, gt=0)
    loss_pct: float | None = Field(default=2.0, ge=0, le=100)
    jitter_ms: float | None = Field(default=30.0, gt=0)
    http_total_ms: float | None = Field(default=1000.0, gt=0)
    dns_ms: float | None = Field(default=500.0, gt=0)
    failure: bool = True
    critical_loss_pct: float | None = Field(default=10.0, ge=0, le=100)
    critical_rtt_ms: float | None = Field(default=None, gt=0)


class Tier2Thresholds(StrictModel):
    """Tier-2 limits; a breach here escalates to tier 3."""

    rtt_ms: float | None = Field(default=None, gt=0)
    loss_pct: float | None = Field(default=2.0, ge=0, le=100)
    jitter_ms: float | None = Field(default=30.0, gt=0)
    throughput_floor_mbps: float | None = Field(default=None, gt=0)
    failure: bool = False


class Tier1(StrictModel):
    """Connectivity, every cycle."""

    probes: list[ProbeSpec]
    thresholds: Tier1Thresholds = Field(default_factory=Tier1Thresholds)
    step_timeout_s: float = Field(default=60.0, gt=0, le=3600)


class Tier2(StrictModel):
    """Diagnostics for a server whose tier-1 results breach."""

    probes: list[ProbeSpec]
    thresholds: Tier2Thresholds = Field(default_factory=Tier2Thresholds)
    max_cycles: int = Field(ge=1)
    step_timeout_s: float = Field(default=180.0, gt=0, le=3600)


class Tier3(StrictModel):
    """Full load and profiling."""

    probes: list[ProbeSpec]
    load: bool = True
    max_cycles: int = Field(ge=1)
    step_timeout_s: float = Field(default=600.0, gt=0, le=7200)


class Tiers(StrictModel):
    """The three tiers and the cycle clock."""

    interval_s: float = Field(default=60.0, gt=0, le=86400)
    jitter_pct: float = Field(default=10.0, ge=0, le=50)
    tier1: Tier1
    tier2: Tier2
    tier3: Tier3

    def tier(self, number: int) -> Tier1 | Tier2 | Tier3:
        """Tier ``number`` (1, 2 or 3)."""
        tiers: dict[int, Tier1 | Tier2 | Tier3] = {1: self.tier1, 2: self.tier2, 3: self.tier3}
        return tiers[number]


class Hysteresis(StrictModel):
    """How eagerly the agent climbs and how long it stays up (policy.PolicyConfig's fields)."""

    breaches: int = Field(ge=1)
    critical_breaches: int = Field(ge=1)
    cooldown_s: float = Field(ge=0)


class StoreConfig(StrictModel):
    """Where finished bundles go: a local directory (default) or S3."""

    kind: Literal["local", "s3"] = "local"
    dir: Path = Path("waddleperf-results")
    #: The S3 store's own settings model (results.stores.s3_config), used as it is.
    s3: S3Config | None = None

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> StoreConfig:
        if self.kind == "s3" and self.s3 is None:
            raise ValueError("store.kind is s3 but store.s3 (bucket, …) is not set")
        return self


class StorageConfig(StrictModel):
    """The spool (one bundle per cycle, written atomically) and the store behind it."""

    spool_dir: Path = Path("waddleperf-spool")
    #: Over this the spool still takes bundles but warns (nothing is ever evicted).
    spool_max_bytes: int = Field(default=1 << 30, ge=1 << 20)
    #: Below this much free disk new bundles are refused with a warning (never a crash).
    spool_min_free_bytes: int = Field(default=64 << 20, ge=0)
    #: Bundles the spool refused are kept in memory up to this many bytes (full + slim
    #: archives) and this many bundles, and retried; past either, the oldest is dropped with an
    #: ERROR. 0 keeps none (a refused bundle is dropped at once, with an ERROR).
    pending_max_bytes: int = Field(ge=0, le=16 << 30)
    pending_max_bundles: int = Field(ge=0, le=100_000)
    store: StoreConfig = Field(default_factory=StoreConfig)


class GeoConfig(StrictModel):
    """GeoIP databases for the bundle's tags (MaxMind format)."""

    city_db: Path | None = None
    asn_db: Path | None = None
    public_ip: str | None = None
    #: Decimals kept of latitude/longitude (1 ≈ 11 km: a site, not a house); null: no coordinates.
    coordinate_decimals: int | None = Field(default=1, ge=0, le=6)
    #: Networks looked up although not global (a lab's simulated internet), e.g. 10.250.0.0/16.
    treat_as_public: list[str] = Field(default_factory=list)

    @field_validator("treat_as_public")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("public_ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)
        return value


class WebhookConfig(StrictModel):
    """POST each escalation event as JSON here."""

    url: HttpUrl
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=10)


class CommandConfig(StrictModel):
    """Run this argument list per escalation event, the event JSON on its stdin."""

    argv: list[str] = Field(min_length=1)
    timeout_s: float = Field(default=10.0, gt=0, le=600)


class NotifyConfig(StrictModel):
    """Escalation notifications; both optional, failures logged, never fatal."""

    webhook: WebhookConfig | None = None
    command: CommandConfig | None = None
    on_deescalation: bool = False


class AutoPerfConfig(StrictModel):
    """Everything ``waddleperf autoperf`` reads at start-up."""

    agent: AgentConfig = Field(default_factory=AgentConfig)
    servers: list[ServerTarget] = Field(min_length=1)
    targets: list[LoadTarget] = Field(default_factory=list)
    tiers: Tiers
    hysteresis: Hysteresis
    storage: StorageConfig
    geoip: GeoConfig = Field(default_factory=GeoConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _references(self) -> AutoPerfConfig:
        labels = [s.label for s in self.servers]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"servers: name {dup[0]!r} used twice (give each a distinct name)")
        for target in self.targets:
            if target.stats_server is not None and target.stats_server not in labels:
                raise ValueError(
                    f"targets: {target.name}.stats_server {target.stats_server!r} names no server"
                )
        return self

    def server(self, label: str) -> ServerTarget:
        """The server called ``label``."""
        return next(s for s in self.servers if s.label == label)


def load(
    user_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    base_file: Traversable = BASE_FILE,
) -> AutoPerfConfig:
    """Load the AutoPerf configuration from all layers (raises ConfigError naming the key)."""
    env = os.environ if environ is None else environ
    own = {k: v for k, v in env.items() if k not in FOREIGN_NAMES}
    return load_config(
        AutoPerfConfig,
        base_file,
        user_file,
        ENV_PREFIX,
        own,
        overrides,
        foreign_prefixes=FOREIGN_PREFIXES,
    )
