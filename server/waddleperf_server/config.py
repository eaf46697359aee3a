"""The server's configuration model; defaults live in ``waddleperf_server/vars/base.yml``
(package data, so an installed wheel has them too)."""

from __future__ import annotations

import errno
import functools
import ipaddress
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationInfo, field_validator, model_validator

from waddleperf_common.config import StrictModel, load_config
from waddleperf_server.net.steer import MAX_WORKERS

BASE_FILE = files("waddleperf_server") / "vars" / "base.yml"
ENV_PREFIX = "WADDLEPERF_SERVER_"


def _check_networks(value: list[str]) -> list[str]:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP network") from None
    return value


def _check_secret_file(path: Path, what: str) -> None:
    """ValueError naming ``what`` when the secret file at ``path`` is missing, unreadable or
    empty (read now, so that it is a configuration error before anything starts)."""
    try:
        read_key_file(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ValueError(f"unusable {what} file: {reason}") from None


@functools.cache
def _shipped_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(BASE_FILE.read_text(encoding="utf-8"))
    return doc


def _shipped(section: str, key: str) -> Any:
    """A default as ``vars/base.yml`` ships it: the one place where defaults are written."""
    return _shipped_doc()[section][key]


class HttpConfig(StrictModel):
    port: int = Field(default=8080, ge=0, le=65535)
    max_echo_bytes: int = Field(default=104_857_600, ge=0)
    max_delay_ms: int = Field(default=10_000, ge=0, le=600_000)
    trusted_proxies: list[str] = Field(default_factory=list)
    max_upload_bytes: int = Field(default=33_554_432, ge=0)
    garbage_max_chunks: int = Field(default=1024, ge=1, le=1024)
    garbage_default_chunks: int = Field(default=4, ge=1, le=1024)
    cors_always: bool = False
    rpm_large_bytes: int = Field(default=8_589_934_592, ge=1)
    rpm_upload_max_bytes: int = Field(default=8_589_934_592, ge=0)
    request_timeout_s: float = Field(default=60.0, gt=0)
    # Slow clients and the connection pool (docs/server.md, "Security model").
    head_timeout_s: float = Field(default=_shipped("http", "head_timeout_s"), gt=0)
    head_timeout_min_s: float = Field(default=_shipped("http", "head_timeout_min_s"), gt=0)
    min_receive_bytes_per_s: float = Field(
        default=_shipped("http", "min_receive_bytes_per_s"), gt=0
    )
    max_connections: int | None = Field(default=_shipped("http", "max_connections"), ge=1)
    pool_memory_fraction: float = Field(
        default=_shipped("http", "pool_memory_fraction"), gt=0, le=0.9
    )
    max_lingering_refusals: int = Field(
        default=_shipped("http", "max_lingering_refusals"), ge=0, le=65536
    )
    max_connections_per_source: int = Field(default=96, ge=1)
    max_request_head_bytes: int = Field(default=65536, ge=1024, le=1_048_576)
    workers: int | None = Field(default=None, ge=1, le=MAX_WORKERS)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _check_networks(value)


class TcpEchoConfig(StrictModel):
    port: int = Field(default=2001, ge=0, le=65535)
    idle_timeout_s: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=256, ge=1)
    max_connections_per_source: int = Field(default=16, ge=1)
    max_bytes_per_connection: int = Field(default=1_073_741_824, ge=1)
    max_lifetime_s: float = Field(default=600.0, gt=0)
    idle_shed_s: float = Field(default=5.0, gt=0)


#: A key file larger than this is a mistake (a wrong path, /dev/zero), not a key.
MAX_KEY_FILE_BYTES = 4096


def read_key_file(path: Path) -> bytes:
    """The secret (the UDP HMAC key, the operator token) held in ``path``, surrounding
    whitespace stripped.

    Raises OSError when the file cannot be read, is empty or is over MAX_KEY_FILE_BYTES.
    """
    with path.open("rb") as fh:
        data = fh.read(MAX_KEY_FILE_BYTES + 1)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise OSError(errno.EFBIG, f"over {MAX_KEY_FILE_BYTES} bytes", str(path))
    key = data.strip()
    if not key:
        raise OSError(errno.EINVAL, "empty", str(path))
    return key


class UdpEchoConfig(StrictModel):
    port: int = Field(default=2000, ge=0, le=65535)
    rate_limit_pps: float = Field(default=1000.0, gt=0)
    rate_burst: int = Field(default=200, ge=1)
    max_datagram_bytes: int = Field(default=9216, ge=32, le=65507)
    hmac_key_file: Path | None = None
    hmac_key_env: str | None = "WADDLEPERF_UDP_KEY"
    max_tracked_sources: int = Field(default=65536, ge=16)

    @field_validator("hmac_key_file")
    @classmethod
    def _key_file_usable(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Checked with the rest of the configuration, so a missing, unreadable or empty key
        # file is a configuration error (exit 2) naming this key, before anything starts.
        # Only when the service runs: a disabled UDP echo needs no key.
        if value is not None and info.data.get("port"):
            _check_secret_file(value, "UDP HMAC key")
        return value


class IperfConfig(StrictModel):
    port: int = Field(default=5201, ge=0, le=65535)
    binary: str = "iperf3"
    idle_timeout_s: int = Field(default=30, ge=1)
    server_max_duration_s: int = Field(default=60, ge=1)
    restart_backoff_s: float = Field(default=1.0, gt=0)


class GeoIPConfig(StrictModel):
    city_db: Path | None = None
    asn_db: Path | None = None


#: The keys that say how a stats target's process is found; a target names exactly one.
TARGET_SELECTORS = ("pid_file", "process_name", "port")


class StatsTarget(StrictModel):
    name: str
    pid_file: Path | None = None
    process_name: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)

    @model_validator(mode="after")
    def _one_selector(self) -> StatsTarget:
        given = [key for key in TARGET_SELECTORS if getattr(self, key) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            raise ValueError(
                f"stats target {self.name!r} must name exactly one of pid_file, process_name "
                f"or port (got {got})"
            )
        return self


class StatsConfig(StrictModel):
    targets: list[StatsTarget] = Field(default_factory=list)


class OperatorConfig(StrictModel):
    """Who may read operator data (``/stats``, ``/health``'s counters): a client inside
    ``allowed_networks``, or one presenting the bearer token held in ``token_file`` or in
    the variable named ``token_env`` (never the token itself in the configuration)."""

    allowed_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    token_file: Path | None = None
    token_env: str | None = None

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _check_networks(value)

    @field_validator("token_file")
    @classmethod
    def _token_file_usable(cls, value: Path | None) -> Path | None:
        if value is not None:
            _check_secret_file(value, "operator token")
        return value


class ServerConfig(StrictModel):
    bind: str = "0.0.0.0"
    log_level: str = "INFO"
    http: HttpConfig = HttpConfig()
    tcp_echo: TcpEchoConfig = TcpEchoConfig()
    udp_echo: UdpEchoConfig = UdpEchoConfig()
    iperf: IperfConfig = IperfConfig()
    geoip: GeoIPConfig = GeoIPConfig()
    stats: StatsConfig = StatsConfig()
    operator: OperatorConfig = OperatorConfig()

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()


def load(
    user_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """Load the server configuration from all layers (raises ConfigError)."""
    return load_config(ServerConfig, BASE_FILE, user_file, ENV_PREFIX, environ, overrides)
