"""The LibreSpeed backend (empty.php, garbage.php, getIP.php), header for header like the
reference PHP backend, served under ``/backend/`` and ``/`` and also without ``.php``."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request

from waddleperf_server.host.geo import isp_summary
from waddleperf_server.http import params
from waddleperf_server.http.bodies import WRITE_CHUNK
from waddleperf_server.http.replies import byte_response
from waddleperf_server.http.request_body import read_body
from waddleperf_server.http.state import client_ip, state
from waddleperf_server.http.wire import CORS_HEADERS, EMPTY_CONTENT_TYPE, NO_CACHE_HEADERS
from waddleperf_server.net import clientaddr

bp = Blueprint("librespeed", __name__)

METHODS = ["GET", "POST", "OPTIONS"]
CHUNK_BYTES = WRITE_CHUNK  # garbage.php's unit: one chunk is 1 MiB
GARBAGE_HARD_CAP = 1024  # the reference backend never sends more than 1024 chunks


@bp.after_request
def _librespeed_headers(resp: Response) -> Response:
    (_, first), (_, second), (_, pragma) = NO_CACHE_HEADERS
    resp.headers["Cache-Control"] = first
    resp.headers.add("Cache-Control", second)
    resp.headers["Pragma"] = pragma
    if params.flag(request.args, "cors") or state().config.http.cors_always:
        for key, value in CORS_HEADERS:
            resp.headers[key] = value
    return resp


def _empty_reply() -> Response:
    return Response(b"", status=200, content_type=EMPTY_CONTENT_TYPE)


@bp.route("/empty.php", methods=METHODS, provide_automatic_options=False)
@bp.route("/empty", methods=METHODS, provide_automatic_options=False)
def empty() -> Response:
    """Ping and upload target: drains any body (bounded by http.max_upload_bytes), 200 empty."""
    read_body(state().config.http.max_upload_bytes)
    return _empty_reply()


@bp.route("/garbage.php", methods=METHODS, provide_automatic_options=False)
@bp.route("/garbage", methods=METHODS, provide_automatic_options=False)
def garbage() -> Response:
    """Download source: ``ckSize`` chunks of 1 MiB of incompressible bytes, streamed."""
    if request.method == "OPTIONS":
        return _empty_reply()
    cfg = state().config.http
    cap = min(GARBAGE_HARD_CAP, cfg.garbage_max_chunks)
    default = min(cfg.garbage_default_chunks, cap)
    chunks = params.garbage_chunks(request.args.get("ckSize"), default, cap)
    return byte_response(
        chunks * CHUNK_BYTES,
        {
            "Content-Description": "File Transfer",
            "Content-Disposition": "attachment; filename=random.dat",
            "Content-Transfer-Encoding": "binary",
        },
    )


def processed_ip(ip: str, isp: dict[str, Any] | None) -> tuple[str, Any]:
    """``(processedString, rawIspInfo)`` for ``ip`` as the reference getIP.php builds them.

    Non-public addresses get their kind (``"127.0.0.1 - localhost IPv4 access"``) and no
    ISP data; a public one gets ``" - ISP, CC"`` when an ipinfo-style record is given.
    """
    addr = clientaddr.parse_ip(ip)
    kind = clientaddr.classify(addr) if addr is not None else None
    if kind is not None:
        return f"{ip} - {kind}", ""
    if isp is None:
        return ip, ""
    return f"{ip} - {isp_summary(isp)}", isp


@bp.route("/getIP.php", methods=METHODS, provide_automatic_options=False)
@bp.route("/getIP", methods=METHODS, provide_automatic_options=False)
def get_ip() -> Response:
    """The client's address, its kind, and with ``isp`` its ISP and country from GeoIP."""
    if request.method == "OPTIONS":
        return _empty_reply()
    ip, _forwarded = client_ip()
    record = None
    if params.flag(request.args, "isp"):
        addr = clientaddr.parse_ip(ip)
        if addr is not None and clientaddr.classify(addr) is None:
            record = state().geo.lookup(ip)
    processed, raw = processed_ip(ip, record)
    body = json.dumps({"processedString": processed, "rawIspInfo": raw}, separators=(",", ":"))
    return Response(body, status=200, content_type="application/json; charset=utf-8")
