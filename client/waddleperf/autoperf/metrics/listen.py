"""``metrics.listen``: where the agent's exporter listens. Off unless set; loopback unless
an address says otherwise (``9427`` means ``127.0.0.1:9427``)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from waddleperf_common.config import StrictModel

LOOPBACK = "127.0.0.1"


def parse_listen(value: str) -> tuple[str, int]:
    """``PORT``, ``IP:PORT`` or ``[IPv6]:PORT`` → (ip, port); ValueError saying what is wrong."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = LOOPBACK, text
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, e.g. [::1]:9427")
    if host == "localhost":
        host = LOOPBACK
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{value!r}: {host!r} is not an IP address") from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{value!r}: port {port_text!r} is not 1-65535")
    return host, int(port_text)


class MetricsConfig(StrictModel):
    """The Prometheus exporter: ``listen`` (None: no exporter)."""

    listen: str | None = Field(default=None)

    @field_validator("listen", mode="before")
    @classmethod
    def _port_alone(cls, value: object) -> object:
        # `listen: 9427` in YAML (or the variable) is a number: the port, on loopback.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value
