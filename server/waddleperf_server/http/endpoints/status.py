"""``/health`` (version, uptime, each service's state) and ``/stats`` (psutil figures)."""

from __future__ import annotations

from flask import Response, jsonify

from waddleperf_server.host import icmp
from waddleperf_server.http.state import state


def health() -> Response:
    """Liveness: version, uptime in seconds, each service's state, whether ICMP echo is on."""
    rt = state().runtime
    resp = jsonify(
        {
            "version": rt.version,
            "uptime_s": round(rt.uptime_s(), 3),
            "services": rt.service_states(),
            "icmp": icmp.echo_state(),
        }
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def stats() -> Response:
    """psutil figures for the machine, this server and each configured target process.

    CPU is in percent (``cpu_pct`` of the whole machine, ``cpu_raw_pct`` of one core),
    memory in MiB, I/O in bytes and operations, context switches as counts.
    """
    st = state()
    resp = jsonify(st.sampler.snapshot(st.config.stats.targets))
    resp.headers["Cache-Control"] = "no-store"
    return resp
