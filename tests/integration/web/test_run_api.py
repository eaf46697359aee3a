"""The Run page's API: forms from the probes' models, a real udp probe against a real local
server run in the pool (lines, record, stored bundle), the target allow-list, form errors,
cancel; and the speed test's result stored through the UI."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.web.conftest import PASSWORD, Ui
from tests.support.wsgi_client import WsgiClient

API = "/waddleperf/api"


def _wait(
    client: WsgiClient, job: str, timeout_s: float = 20.0
) -> tuple[dict[str, Any], list[str]]:
    lines: list[str] = []
    cursor = 0
    deadline = time.monotonic() + timeout_s
    while True:
        got = client.api("GET", f"{API}/jobs/{job}?cursor={cursor}").json()
        lines += got["lines"]
        cursor = got["cursor"]
        if got["state"] in ("done", "cancelled", "failed") or time.monotonic() > deadline:
            return got, lines
        time.sleep(0.05)


def test_forms_come_from_the_probe_models(ui: Ui) -> None:
    client, _ = ui.logged_in(ui.admin, "127.0.6.1")
    kinds = client.api("GET", f"{API}/kinds").json()["kinds"]
    assert {"udp", "tcp", "icmp", "http", "dns"} <= set(kinds)
    form = client.api("GET", f"{API}/form/udp").json()
    names = [f["name"] for f in form["fields"]]
    assert names[0] == "target" and "count" in names and "interval_s" in names
    assert client.api("GET", f"{API}/form/nope").status == 404


def test_a_udp_probe_runs_streams_and_is_stored(ui: Ui) -> None:
    client, token = ui.logged_in(ui.admin, "127.0.6.2")
    target = f"127.0.0.1:{ui.server.udp_echo_port}"
    reply = client.api("POST", f"{API}/jobs", {"kind": "udp", "values": {
        "target": target, "count": "25", "interval_s": "0.01"}}, token=token)  # fmt: skip
    assert reply.status == 201, reply.text
    job = reply.json()["id"]
    got, lines = _wait(client, job)
    assert got["state"] == "done", got
    assert any("seq=24" in line for line in lines), lines[-3:]
    record = got["result"]
    assert record["kind"] == "probe.udp" and record["metrics"]["received_count"] == 25
    assert record["info"]["ui_user"] == ui.admin and record["tier"] is None  # a manual run
    assert any("rtt" in k and "avg" in k and v > 0 for k, v in record["metrics"].items())
    assert got["stored"] and (ui.store / got["stored"]).is_file()
    listed = client.api("GET", f"{API}/jobs").json()["jobs"]
    assert listed[0]["id"] == job and listed[0]["state"] == "done"
    client.api("POST", f"{API}/refresh", {}, token=token)
    rows = client.api("GET", "/waddleperf/api/history?kind=udp&agent=ui-agent").json()["rows"]
    assert any(r["target"] == target for r in rows)
    other, _ = ui.logged_in(ui.admin, "127.0.6.3")
    other_user = "other-admin@example.com"
    assert other.api("GET", f"{API}/jobs/{job}").status == 200  # same user, other session
    ui.accounts.create(other_user, PASSWORD, "admin")
    third, _ = ui.logged_in(other_user, "127.0.6.3")
    assert third.api("GET", f"{API}/jobs/{job}").status == 404


def test_bad_values_and_disallowed_targets(ui: Ui) -> None:
    client, token = ui.logged_in(ui.admin, "127.0.6.4")
    bad = client.api("POST", f"{API}/jobs", {"kind": "udp", "values": {
        "target": "127.0.0.1:9", "count": "lots"}}, token=token)  # fmt: skip
    assert bad.status == 400 and "count" in bad.json()["errors"]
    outside = client.api("POST", f"{API}/jobs", {"kind": "tcp", "values": {
        "target": "192.0.2.1:80"}}, token=token)  # fmt: skip
    assert outside.status == 403 and "not among the targets" in outside.json()["error"]
    by_name = client.api("POST", f"{API}/jobs", {"kind": "http", "values": {
        "target": "http://example.com/"}}, token=token)  # fmt: skip
    assert by_name.status == 403
    junk = client.request("POST", f"{API}/jobs", b"not json", {
        "Content-Type": "application/json", "Origin": client.origin,
        "X-WaddlePerf-CSRF": token})  # fmt: skip
    assert junk.status == 400 and "not JSON" in junk.json()["error"]
    shape = client.api("POST", f"{API}/jobs", [1, 2], token=token)
    assert shape.status == 400


def test_cancel_stops_a_running_probe(ui: Ui) -> None:
    client, token = ui.logged_in(ui.admin, "127.0.6.5")
    reply = client.api("POST", f"{API}/jobs", {"kind": "udp", "values": {
        "target": f"127.0.0.1:{ui.server.udp_echo_port}", "count": "2000",
        "interval_s": "0.01"}}, token=token)  # fmt: skip
    job = reply.json()["id"]
    deadline = time.monotonic() + 10
    while client.api("GET", f"{API}/jobs/{job}").json()["state"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    assert client.api("POST", f"{API}/jobs/{job}/cancel", {}, token=token).json() == {
        "cancelled": True
    }
    got, _ = _wait(client, job)
    assert got["state"] == "cancelled"
    sent = got["result"]["metrics"]["sent_count"]
    assert 0 < sent < 2000, sent
    assert client.api("POST", f"{API}/jobs/nope/cancel", {}, token=token).status == 404


def _speed_payload(server: str) -> dict[str, Any]:
    return {"server": server, "duration_s": 8.0, "user_agent": "test",
            "metrics": {"ping_ms": 1.2, "jitter_ms": 0.3, "download_throughput_mbps": 940.5,
                        "upload_throughput_mbps": 610.0},
            "info": {"client_ip": "127.0.0.1"},
            "samples": [{"phase": "ping", "t_s": 0.2, "rtt_ms": 1.2}]}  # fmt: skip


def test_the_speed_test_result_is_checked_and_stored(ui: Ui) -> None:
    client, token = ui.logged_in(ui.admin, "127.0.6.6")
    server = ui.runtime.servers[0].url
    reply = client.api("POST", f"{API}/speedtest", _speed_payload(server), token=token)
    assert reply.status == 201, reply.text
    assert (ui.store / reply.json()["id"]).is_file()
    elsewhere = client.api("POST", f"{API}/speedtest", _speed_payload("http://192.0.2.7/backend/"),
                           token=token)  # fmt: skip
    assert elsewhere.status == 400 and "not one of the configured servers" in elsewhere.text
    absurd = _speed_payload(server)
    absurd["metrics"]["download_throughput_mbps"] = 1e15
    assert client.api("POST", f"{API}/speedtest", absurd, token=token).status == 400
    client.api("POST", f"{API}/refresh", {}, token=token)
    rows = client.api("GET", "/waddleperf/api/history?kind=speedtest&agent=ui-agent").json()
    assert rows["total"] >= 1 and rows["rows"][0]["throughput_bps"] > 0
    detail = client.api("GET", f"/waddleperf/api/history/record?record={rows['rows'][0]['id']}")
    assert detail.json()["info"]["ui_user"] == ui.admin
