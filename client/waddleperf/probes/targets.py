"""Target validation: host names, IPv4/IPv6 literals (bracketed or bare), ports, http(s) URLs.

Pure: nothing here resolves a name or opens a socket. Errors are TargetError with a message
that names the bad part.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetError(ValueError):
    """A target that cannot be probed as written; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class Host:
    """A host: a DNS name or an IP literal (without brackets)."""

    name: str
    family: Literal["name", "ipv4", "ipv6"]

    @property
    def for_url(self) -> str:
        """The host as it appears in a URL or host:port (IPv6 in brackets)."""
        return f"[{self.name}]" if self.family == "ipv6" else self.name


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A host and a port."""

    host: Host
    port: int

    def __str__(self) -> str:
        return f"{self.host.for_url}:{self.port}"


@dataclass(frozen=True, slots=True)
class Url:
    """An http or https URL split into what a probe needs."""

    scheme: Literal["http", "https"]
    host: Host
    port: int
    path: str  # path plus query, never empty

    def __str__(self) -> str:
        default = DEFAULT_PORTS[self.scheme] == self.port
        port = "" if default else f":{self.port}"
        return f"{self.scheme}://{self.host.for_url}{port}{self.path}"


def parse_port(value: str | int) -> int:
    """A TCP/UDP port number 1..65535."""
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise TargetError(f"port {value!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise TargetError(f"port {port} outside 1..65535")
    return port


def parse_host(text: str) -> Host:
    """A host name (RFC 1123 labels) or an IPv4/IPv6 literal, brackets allowed around IPv6."""
    raw = text.strip()
    if not raw:
        raise TargetError("empty host")
    if raw.startswith("[") and raw.endswith("]"):
        inner = raw[1:-1]
        try:
            return Host(str(ipaddress.IPv6Address(inner)), "ipv6")
        except ValueError:
            raise TargetError(f"{raw!r}: brackets hold something that is not IPv6") from None
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        pass
    else:
        return Host(str(addr), "ipv4" if addr.version == 4 else "ipv6")
    if ":" in raw:
        raise TargetError(f"{raw!r} is neither an IPv6 address nor a host name")
    name = raw[:-1] if raw.endswith(".") else raw
    if len(name) > 253:
        raise TargetError(f"host name longer than 253 characters: {raw[:40]}…")
    if all(part.isdigit() for part in name.split(".")):
        raise TargetError(f"{raw!r} looks like an IPv4 address but is not a valid one")
    for label in name.split("."):
        if not _LABEL.match(label):
            raise TargetError(
                f"{raw!r}: label {label!r} is not a valid host name label "
                "(letters, digits, hyphens; 1-63 characters; no hyphen at either end)"
            )
    return Host(name.lower(), "name")


def parse_endpoint(text: str, default_port: int | None = None) -> Endpoint:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 literal (no port)."""
    raw = text.strip()
    host_part, port_part = raw, None
    if raw.startswith("["):
        close = raw.find("]")
        if close < 0:
            raise TargetError(f"{raw!r}: '[' without ']'")
        host_part, rest = raw[: close + 1], raw[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise TargetError(f"{raw!r}: expected ':port' after ']'")
            port_part = rest[1:]
    elif raw.count(":") == 1:
        host_part, port_part = raw.split(":")
    host = parse_host(host_part)
    if port_part is not None:
        return Endpoint(host, parse_port(port_part))
    if default_port is None:
        raise TargetError(f"{raw!r}: a port is needed (host:port or [v6]:port, or --port)")
    return Endpoint(host, parse_port(default_port))


def parse_url(text: str) -> Url:
    """An http:// or https:// URL with a valid host and port."""
    raw = text.strip()
    parts = urllib.parse.urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetError(f"{raw!r}: only http:// and https:// URLs can be probed")
    if not parts.netloc:
        raise TargetError(f"{raw!r}: the URL has no host")
    if "@" in parts.netloc:
        raise TargetError(f"{raw!r}: credentials in URLs are not accepted")
    try:
        port_text = parts.port
    except ValueError as exc:
        raise TargetError(f"{raw!r}: {exc}") from None
    hostname = parts.netloc.rsplit(":", 1)[0] if port_text is not None else parts.netloc
    host = parse_host(hostname)
    port = parse_port(port_text) if port_text is not None else DEFAULT_PORTS[scheme]
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Url("https" if scheme == "https" else "http", host, port, path)
