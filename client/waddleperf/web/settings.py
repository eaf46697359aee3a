"""The UI's settings: the ``ui:`` section of the agent's configuration (``vars/base.yml``).

One configuration system for the agent and its UI: ``waddleperf ui --config FILE`` reads the
same file as ``waddleperf autoperf`` (servers for the speed test, the store whose results
History shows), plus this section. Flags override it, as for every command;
``WADDLEPERF_UI_DB_URI`` sets the database (it may hold a password: keep it out of files).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from waddleperf_common.config import StrictModel

#: Environment variable that gives ``ui create-admin`` its password (else it prompts).
ADMIN_PASSWORD_ENV = "WADDLEPERF_UI_ADMIN_PASSWORD"  # noqa: S105 (a variable name)
ROLES = ("admin", "viewer")


class LoginLimits(StrictModel):
    """Failed logins allowed per window: per client address and per account."""

    per_address: int = Field(default=20, ge=1, le=10_000)
    per_account: int = Field(default=5, ge=1, le=10_000)
    window_s: float = Field(default=300.0, gt=0, le=86_400)


class UiConfig(StrictModel):
    """``waddleperf ui``: where it listens, keeps its data and which targets it may probe."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: Users' database (SQLite), the session secret, the UI's own report catalog.
    data_dir: Path = Path("waddleperf-ui")
    #: pydal URI: ``sqlite://ui.sqlite`` (in data_dir) or ``mysql://user:pw@host/db``.
    db_uri: str = "sqlite://ui.sqlite"
    #: What History and Fleet show (``waddleperf report`` sources); empty: the agent's store.
    results: list[str] = Field(default_factory=list)
    #: Re-read the results this often (seconds); 0: only at start and on "Refresh".
    refresh_s: float = Field(default=60.0, ge=0, le=86_400)
    #: Probes run from the Run page: at once, per user (queued or running), queued in all.
    workers: int = Field(default=4, ge=1, le=64)
    per_user: int = Field(default=2, ge=1, le=64)
    queue: int = Field(default=32, ge=1, le=1024)
    #: The targets the UI may probe (networks, host names); both empty: any target.
    allowed_networks: list[str] = Field(default_factory=list)
    allowed_hosts: list[str] = Field(default_factory=list)
    login: LoginLimits = Field(default_factory=LoginLimits)
    #: A login lasts this long without activity (seconds).
    session_idle_s: int = Field(default=3600, ge=60, le=30 * 86_400)
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not a network (10.0.0.0/8, ::1/128)") from None
        return value

    @field_validator("db_uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        scheme = value.partition("://")[0]
        if scheme not in ("sqlite", "mysql", "postgres"):
            raise ValueError(f"scheme {scheme!r}: use sqlite://, mysql:// or postgres://")
        return value

    @model_validator(mode="after")
    def _pair(self) -> UiConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key: give both (HTTPS) or neither")
        return self

    @property
    def tls(self) -> bool:
        """Whether the UI serves HTTPS."""
        return self.tls_cert is not None and self.tls_key is not None
