"""Probe jobs from the UI: a real udp probe against a real local server, stored, listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import LocalServer
from waddleperf.results.stores.local import LocalStore
from waddleperf.webdata import history
from waddleperf.webdata.forms import FormError
from waddleperf.webdata.jobs import JobError, JobPool
from waddleperf.webdata.policy import TargetPolicy
from waddleperf.webdata.store import Catalog
from waddleperf.webdata.view import decode


def _target(srv: LocalServer) -> str:
    return f"127.0.0.1:{srv.udp_echo_port}"


def test_udp_job_streams_lines_stores_the_record_and_history_lists_it(
    udp_server: LocalServer, tmp_path: Path
) -> None:
    store_dir = tmp_path / "results"
    pool = JobPool(workers=2, per_user=1, store=LocalStore(store_dir), agent="ui-test",
                   policy=TargetPolicy.parse(["127.0.0.0/8"]))  # fmt: skip
    try:
        job = pool.submit("alice", "udp", {"target": _target(udp_server), "count": "20",
                                           "interval_s": "0.01"})  # fmt: skip
        with pytest.raises(JobError, match="alice already has 1 probe"):
            pool.submit("alice", "udp", {"target": _target(udp_server)})
        seen: list[str] = []
        cursor = 0
        for _ in range(200):  # bounded: 10 s
            got = pool.poll(job, cursor, user="alice")
            seen += got["lines"]
            cursor = got["cursor"]
            if got["state"] == "done":
                break
            pool.wait(job, 0.05)
        assert got["state"] == "done", got
        assert len(seen) >= 20 and any("seq=19" in line for line in seen)
        record = got["result"]
        assert record["kind"] == "probe.udp" and record["metrics"]["received_count"] == 20
        assert got["stored"] and (store_dir / got["stored"]).is_file()
        assert pool.poll(job, cursor)["lines"] == []
        with pytest.raises(JobError, match="no job"):
            pool.poll(job, user="bob")
    finally:
        pool.close()
    cat = Catalog(None, threads=1)
    try:
        cat.ingest([str(store_dir)])
        rows = history.listing(cat, decode("agent=ui-test&kind=udp"))["rows"]
        assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["loss_ratio"] == 0.0
    finally:
        cat.close()


def test_cancel_stops_a_long_run_with_what_it_measured(udp_server: LocalServer) -> None:
    pool = JobPool(workers=1, per_user=2)
    try:
        job = pool.submit("bob", "udp", {"target": _target(udp_server), "count": "10000",
                                         "interval_s": "0.01"})  # fmt: skip
        queued = pool.submit("bob", "udp", {"target": _target(udp_server), "count": "5"})
        for _ in range(100):
            if pool.poll(job)["progress"]["done"] >= 5:
                break
            pool.wait(job, 0.05)
        assert pool.cancel(queued, user="bob")
        assert pool.poll(queued)["state"] == "cancelled"
        assert pool.cancel(job, user="bob")
        got = pool.wait(job, 10)
        assert got["state"] == "cancelled"
        record = got["result"]
        assert record["status"] == "interrupted"
        assert 5 <= record["metrics"]["sent_count"] < 10000
    finally:
        pool.close()


def test_bad_forms_and_disallowed_targets_are_refused(udp_server: LocalServer) -> None:
    pool = JobPool(workers=1, policy=TargetPolicy.parse(["10.0.0.0/8"]))
    try:
        with pytest.raises(FormError) as err:
            pool.submit("c", "udp", {"target": "127.0.0.1:1", "count": "zero"})
        assert "count" in err.value.errors
        with pytest.raises(JobError, match="is not among the targets"):
            pool.submit("c", "udp", {"target": _target(udp_server)})
        assert pool.jobs() == []
    finally:
        pool.close()
