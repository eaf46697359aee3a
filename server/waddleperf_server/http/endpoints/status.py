"""``/health`` (version, uptime, each service's state) and ``/stats`` (psutil figures).

Both carry operator data (``http/access.py``): ``/stats`` is refused (403) to anyone outside
``operator.allowed_networks`` without the operator's token; ``/health`` answers everyone, but
only the operator gets each service's counters, the rest get its state and port.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from waddleperf_server.host import icmp
from waddleperf_server.http.access import REFUSED
from waddleperf_server.http.replies import json_error
from waddleperf_server.http.state import operator_allowed, state

#: What every client sees of a service in ``/health``; the rest is operator data.
PUBLIC_SERVICE_KEYS = ("state", "port")


def health() -> Response:
    """Liveness: version, uptime in seconds, each service's state, whether ICMP echo is on;
    each service's counters too for the operator."""
    rt = state().runtime
    services: dict[str, dict[str, Any]] = rt.service_states()
    doc: dict[str, Any] = {"version": rt.version, "uptime_s": round(rt.uptime_s(), 3)}
    if operator_allowed():
        doc["services"] = services
    else:
        doc["services"] = {
            name: {k: v for k, v in status.items() if k in PUBLIC_SERVICE_KEYS}
            for name, status in services.items()
        }
        doc["restricted"] = True
    doc["icmp"] = icmp.echo_state()
    resp = jsonify(doc)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def stats() -> Response:
    """psutil figures for the machine, this server and each configured target process.

    CPU is in percent (``cpu_pct`` of the whole machine, ``cpu_raw_pct`` of one core),
    memory in MiB, I/O in bytes and operations, context switches as counts. 403 for a
    client that is not the operator.
    """
    if not operator_allowed():
        resp = json_error(403, REFUSED)
    else:
        st = state()
        resp = jsonify(st.sampler.snapshot(st.config.stats.targets, st.runtime.server_pid))
    resp.headers["Cache-Control"] = "no-store"
    return resp
