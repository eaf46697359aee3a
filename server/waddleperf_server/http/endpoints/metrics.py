"""``/metrics``: the server's Prometheus metrics, behind the same access control as ``/stats``
(``operator.allowed_networks`` or the operator's bearer token; others get 403)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from waddleperf_server.http import exposition
from waddleperf_server.http.access import REFUSED
from waddleperf_server.http.replies import json_error
from waddleperf_server.http.state import operator_allowed, state
from waddleperf_server.runtime import Runtime


class ServerCollector(Collector):
    """The running server's families at scrape time (``exposition.families``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        """One scrape: every service's status, as ``/health`` reads it."""
        rt = self.runtime
        yield from exposition.families(rt.service_states(), rt.version, rt.uptime_s())


def metrics() -> Response:
    """Prometheus text (or OpenMetrics, when the scraper asks for it); 403 for a client that
    is not the operator."""
    if not operator_allowed():
        resp = json_error(403, REFUSED)
    else:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ServerCollector(state().runtime))
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        resp = Response(encoder(registry), status=200, content_type=content_type)
    resp.headers["Cache-Control"] = "no-store"
    return resp
