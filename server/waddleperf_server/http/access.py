"""Who may read operator data: ``/stats`` (CPU, memory, network and process figures of the
server and of its targets) and the counters in ``/health``.

A request is allowed when its client address (the TCP peer, or the X-Forwarded-For client
behind a trusted proxy, as ``/ip`` reports it) is inside ``operator.allowed_networks``
(default: loopback only), or when it presents the operator's bearer token
(``Authorization: Bearer <token>``), read at start-up from ``operator.token_file`` or from
the variable named by ``operator.token_env``. The token is compared in constant time (the
SHA-256 digests of both, so not even its length leaks). Pure apart from :func:`load`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from waddleperf_server import logs
from waddleperf_server.config import OperatorConfig, read_key_file
from waddleperf_server.net import clientaddr

#: A token shorter than this is used but warned about at start-up.
MIN_TOKEN_BYTES = 16
#: What a refused request is told (with status 403).
REFUSED = (
    "operator data: allowed only from operator.allowed_networks or with the operator's "
    "bearer token (Authorization: Bearer …)"
)


@dataclass(frozen=True)
class OperatorAccess:
    """The allowed networks and the token's digest (None: no token configured)."""

    networks: tuple[clientaddr.IPNetwork, ...]
    token_digest: bytes | None

    def allows(self, client: str, authorization: Sequence[str]) -> bool:
        """Whether a request from ``client`` (an address) with these ``Authorization``
        header values may read operator data."""
        addr = clientaddr.parse_ip(client)
        if addr is not None and any(
            addr.version == net.version and addr in net for net in self.networks
        ):
            return True
        return self.token_matches(authorization)

    def token_matches(self, authorization: Sequence[str]) -> bool:
        """Whether exactly one ``Authorization: Bearer <token>`` carries the token."""
        if self.token_digest is None or len(authorization) != 1:
            return False
        scheme, _, presented = authorization[0].strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return False
        # WSGI hands header bytes over as latin-1 text: encoding back gives the bytes sent.
        digest = hashlib.sha256(presented.strip().encode("latin-1", "replace")).digest()
        return hmac.compare_digest(digest, self.token_digest)


def load_token(cfg: OperatorConfig, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The operator token from ``token_file`` or the variable ``token_env``; None if unset.

    Raises OSError when a configured token file cannot be read (checked with the
    configuration already; read again here, so a file gone since is a start-up error).
    """
    if cfg.token_file is not None:
        return read_key_file(Path(cfg.token_file))
    env = os.environ if environ is None else environ
    if cfg.token_env:
        value = env.get(cfg.token_env, "").strip()
        if value:
            return value.encode()
    return None


def token_warning(cfg: OperatorConfig, token: bytes | None) -> str | None:
    """A sentence for the log when the token is configured but empty or short, else None."""
    if token is None and cfg.token_env and cfg.token_file is None:
        return (
            f"operator.token_env names {cfg.token_env}, which is unset or empty: operator "
            "data is served to operator.allowed_networks only"
        )
    if token is not None and len(token) < MIN_TOKEN_BYTES:
        return (
            f"the operator token is only {len(token)} bytes; use at least {MIN_TOKEN_BYTES} "
            "random bytes"
        )
    return None


def load(cfg: OperatorConfig, environ: Mapping[str, str] | None = None) -> OperatorAccess:
    """The access rule of a running server (reads the token; OSError if its file is gone)."""
    token = load_token(cfg, environ)
    if (warning := token_warning(cfg, token)) is not None:
        logs.get("http").warning(warning)
    return OperatorAccess(
        networks=clientaddr.parse_networks(cfg.allowed_networks),
        token_digest=None if token is None else hashlib.sha256(token).digest(),
    )
