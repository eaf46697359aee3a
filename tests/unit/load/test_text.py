"""What a person reads of a load run: the progress line and the record's figures (pure)."""

from __future__ import annotations

from pathlib import Path

from waddleperf.load.text import SHOWN, progress_line, record_lines
from waddleperf.results.model import Result, Status, utc_now


def test_progress_line_has_every_counter() -> None:
    snap = {"elapsed_s": 3, "users": 4, "requests": 120, "failures": 2, "current_rps": 40.5,
            "workers": 2}  # fmt: skip
    # fixed-width columns, so a rewritten terminal line does not jitter
    assert progress_line(snap) == (
        "  t=     3s users=   4 req=     120 fail=     2 rps=    40.5 workers=2"
    )
    assert progress_line({}).replace(" ", "") == "t=0susers=0req=0fail=0rps=0workers=0"


def test_record_lines_show_the_figures_in_order_and_the_error() -> None:
    now = utc_now()
    rec = Result(kind="load.locust", target="http://t", started_at=now, finished_at=now,
                 metrics={"latency_max_ms": 9.0, "requests_count": 10, "other_ms": 1.0},
                 status=Status.DEGRADED, error="20.0% of requests failed")  # fmt: skip
    lines = record_lines(rec, Path("/tmp/run"))
    assert lines[0] == "load.locust http://t: degraded — 20.0% of requests failed"
    assert [line.split()[0] for line in lines[1:-1]] == ["requests_count", "latency_max_ms"]
    assert lines[-1] == "  files in /tmp/run"
    assert SHOWN.index("requests_count") < SHOWN.index("latency_max_ms")
