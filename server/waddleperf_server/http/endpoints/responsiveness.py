"""Responsiveness (draft-ietf-ippm-responsiveness): the ``/.well-known/nq`` configuration
document and the three objects it points at (small, large download, upload sink)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from waddleperf_common.nq import NQ_PATH, NQConfig
from waddleperf_server.http.replies import byte_response, json_error
from waddleperf_server.http.request_body import read_body
from waddleperf_server.http.state import state
from waddleperf_server.http.wire import NO_STORE, SMALL_PATH

bp = Blueprint("responsiveness", __name__)

LARGE_PATH = "/rpm/large"
UPLOAD_PATH = "/rpm/upload"

# A host name, IPv4 address or bracketed IPv6 address, then an optional port. Anything
# else in Host would be echoed into URLs the client then fetches, so it is refused.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+(%[0-9A-Za-z._~-]+)?\]|[0-9A-Za-z.-]+)(:[0-9]{1,5})?")


def valid_host(host: str) -> bool:
    """Whether ``host`` (a Host header value) is safe to build absolute URLs from."""
    return bool(host) and len(host) <= 255 and _HOST.fullmatch(host) is not None


def nq_document(scheme: str, host: str) -> dict[str, Any]:
    """The configuration document with absolute URLs on ``scheme://host``."""
    base = f"{scheme}://{host}"
    return NQConfig(
        small_download_url=base + SMALL_PATH,
        large_download_url=base + LARGE_PATH,
        upload_url=base + UPLOAD_PATH,
    ).to_json()


@bp.route(NQ_PATH, methods=["GET", "HEAD"])
def config_document() -> Response:
    """The responsiveness configuration, URLs derived from the request's Host."""
    host = request.host
    if not valid_host(host):
        return json_error(400, f"Host header {host[:100]!r} cannot form a URL")
    resp = jsonify(nq_document(request.scheme, host))
    resp.headers.update(NO_STORE)
    return resp


@bp.route(SMALL_PATH, methods=["GET", "HEAD"])
def small() -> Response:
    """The small object: one byte, for measuring request round trips on loaded links."""
    return byte_response(1, NO_STORE)


@bp.route(LARGE_PATH, methods=["GET", "HEAD"])
def large() -> Response:
    """The large object: http.rpm_large_bytes bytes, streamed; clients usually stop early."""
    return byte_response(state().config.http.rpm_large_bytes, NO_STORE)


@bp.route(UPLOAD_PATH, methods=["POST", "PUT"])
def upload() -> Response:
    """The upload sink: drains up to http.rpm_upload_max_bytes, answers ``{"bytes": N}``."""
    received = read_body(state().config.http.rpm_upload_max_bytes)
    resp = jsonify({"bytes": received})
    resp.headers.update(NO_STORE)
    return resp
