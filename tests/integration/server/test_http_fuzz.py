"""Hypothesis fuzzing of query values: never a 5xx, every 4xx is a JSON error."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.httphelp import module_http_server
from waddleperf.localstack import LocalServer
from waddleperf_server.http.params import garbage_chunks

MiB = 1024 * 1024
CONFIG = """
http:
  max_echo_bytes: 4096
  max_delay_ms: 20
  garbage_max_chunks: 2
  garbage_default_chunks: 1
"""

values = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "0", "-0", "+5", " 7", "1e3", "0x10", "١٢", "２", "9" * 300, "%00"]),
)
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


srv = module_http_server("srv", CONFIG)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def _q(name: str, value: str) -> str:
    return f"{name}={quote(value, safe='')}"


def _assert_json_error(r: requests.Response) -> None:
    assert r.headers["Content-Type"] == "application/json", r.headers
    doc = r.json()
    assert isinstance(doc["error"], str) and doc["error"]
    assert doc["status"] == r.status_code


@FUZZ
@given(size=st.none() | values, delay=st.none() | values)
def test_fuzz_echo(
    srv: LocalServer, session: requests.Session, size: str | None, delay: str | None
) -> None:
    parts = [_q("size", size) if size is not None else "", _q("delay_ms", delay) if delay else ""]
    r = session.get(srv.base_url + "/echo?" + "&".join(p for p in parts if p), timeout=5)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        _assert_json_error(r)
        assert r.json()["param"] in ("size", "delay_ms")
    elif size is not None:
        assert len(r.content) == int(size.strip())
        assert 0 <= int(size.strip()) <= 4096
    else:
        assert r.json()["path"] == "/echo"


@FUZZ
@given(ck=values)
def test_fuzz_garbage(srv: LocalServer, session: requests.Session, ck: str) -> None:
    r = session.get(srv.base_url + "/garbage.php?" + _q("ckSize", ck), timeout=10)
    assert r.status_code == 200
    expected = garbage_chunks(ck, default=1, cap=2) * MiB
    assert len(r.content) == int(r.headers["Content-Length"]) == expected


@FUZZ
@given(isp=values, extra=values)
def test_fuzz_getip(srv: LocalServer, session: requests.Session, isp: str, extra: str) -> None:
    query = "&".join([_q("isp", isp), _q("distance", extra), _q("r", extra)])
    r = session.get(srv.base_url + "/backend/getIP.php?" + query, timeout=5)
    assert r.status_code == 200
    assert r.json() == {"processedString": "127.0.0.1 - localhost IPv4 access", "rawIspInfo": ""}


@FUZZ
@given(segment=st.text(min_size=1, max_size=40))
def test_fuzz_unknown_paths_are_json_404(
    srv: LocalServer, session: requests.Session, segment: str
) -> None:
    r = session.get(srv.base_url + "/nothing-here/" + quote(segment, safe=""), timeout=5)
    assert r.status_code == 404
    _assert_json_error(r)
