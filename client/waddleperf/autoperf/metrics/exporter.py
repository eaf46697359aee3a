"""Serving the agent's metrics: its own registry, ``prometheus_client``'s HTTP server, and the
agent's event hooks feeding the state (records of a cycle, then the cycle itself)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from waddleperf.autoperf.events import Events
from waddleperf.autoperf.metrics.collector import AgentCollector, SinkFigures
from waddleperf.autoperf.metrics.listen import parse_listen
from waddleperf.autoperf.metrics.samples import cycle_metrics
from waddleperf.autoperf.metrics.state import ExporterState
from waddleperf.autoperf.summary import CycleSummary
from waddleperf.results.model import Result

log = logging.getLogger("waddleperf.autoperf")


def _bytes_of(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # uploaded between the listing and the stat
            continue
    return total


def sink_figures(sink: Any) -> Callable[[], SinkFigures | None]:
    """A reader of a ``BundleSink``'s spool, pending queue and uploader (None for other sinks)."""

    def read() -> SinkFigures | None:
        spool, pending, uploader = (
            getattr(sink, n, None) for n in ("spool", "pending", "uploader")
        )
        if spool is None or pending is None or uploader is None:
            return None
        bundles = spool.bundles()
        return SinkFigures(
            spool_bundles=len(bundles),
            spool_bytes=_bytes_of(bundles),
            pending_bundles=len(pending),
            pending_bytes=pending.held_bytes,
            dropped_bundles=pending.dropped_total,
            uploads=uploader.uploaded_total,
            upload_failures=uploader.failures_total,
            last_upload_at=uploader.last_success_at,
        )

    return read


def _duration(summary: CycleSummary) -> float | None:
    from datetime import datetime

    if summary.finished_at is None:
        return None
    start = datetime.fromisoformat(summary.started_at.replace("Z", "+00:00"))
    end = datetime.fromisoformat(summary.finished_at.replace("Z", "+00:00"))
    return (end - start).total_seconds()


def feed(events: Events, state: ExporterState) -> None:
    """Collect each cycle's records from the ``result`` hook; commit them on ``cycle``."""
    records: list[Result] = []
    lock = threading.Lock()

    @events.result.add_listener
    def _record(result: Result) -> None:
        with lock:
            records.append(result)

    @events.cycle.add_listener
    def _cycle(summary: CycleSummary) -> None:
        with lock:
            mine, records[:] = list(records), []
        tiers = {line.server: line.tier_after for line in summary.servers.values()}
        state.commit(cycle_metrics(mine, tiers, _duration(summary)), time.time())


class Exporter:
    """The exporter of one agent: started on ``listen``, stopped when the agent quits."""

    def __init__(self, listen: str, collector: AgentCollector) -> None:
        self.host, self.port = parse_listen(listen)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen and serve on a daemon thread; OSError when the address cannot be had."""
        self._server, self._thread = start_http_server(self.port, self.host, self.registry)
        log.info("metrics on http://%s:%d/metrics (pid %d)", self.host, self.port, os.getpid())

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None


def attach(events: Events, listen: str, agent: str, version: str, sink: Any) -> Exporter:
    """An exporter for this agent, fed by ``events``, stopped on ``quitting``; started.

    Raises OSError when ``listen`` cannot be had.
    """
    state = ExporterState()
    exporter = Exporter(listen, AgentCollector(state, agent, version, sink_figures(sink)))
    exporter.start()
    feed(events, state)
    events.quitting.add_listener(lambda _stopped: exporter.stop())
    return exporter
