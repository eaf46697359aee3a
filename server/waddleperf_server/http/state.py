"""The app's per-process state every endpoint reads, and the client's address."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from flask import current_app, request

from waddleperf_server.config import ServerConfig
from waddleperf_server.host.geo import GeoLookup
from waddleperf_server.host.stats import ProcessSampler
from waddleperf_server.http.access import OperatorAccess
from waddleperf_server.http.tally import RequestTally
from waddleperf_server.net import clientaddr
from waddleperf_server.runtime import Runtime

RANDOM_BUFFER_BYTES = 1024 * 1024
STATE_KEY = "waddleperf"


@dataclass
class AppState:
    """Per-process state the handlers read; built once by create_app."""

    config: ServerConfig
    runtime: Runtime
    trusted: tuple[clientaddr.IPNetwork, ...]
    geo: GeoLookup
    sampler: ProcessSampler
    access: OperatorAccess
    #: Replies by endpoint and status (/metrics), bumped by the app and the fast path.
    requests: RequestTally = field(default_factory=RequestTally)
    # One incompressible buffer made at start-up; every download streams views of it.
    random: bytes = field(default_factory=lambda: os.urandom(RANDOM_BUFFER_BYTES))


def state() -> AppState:
    """The running app's state."""
    value: AppState = current_app.extensions[STATE_KEY]
    return value


def client_ip() -> tuple[str, bool]:
    """The client's address (X-Forwarded-For believed from trusted proxies) and whether
    it came from that header."""
    peer = request.environ.get("REMOTE_ADDR", "")
    xff = request.headers.getlist("X-Forwarded-For")
    return clientaddr.client_address(peer, xff, state().trusted)


def operator_allowed() -> bool:
    """Whether this request may read operator data (``http/access.py``): its client address
    is in ``operator.allowed_networks`` or it carries the operator's bearer token."""
    return state().access.allows(client_ip()[0], request.headers.getlist("Authorization"))
