"""The HTTP status summed over workers, and each worker's share of the configuration."""

from __future__ import annotations

from waddleperf_server import config as server_config
from waddleperf_server.workers.aggregate import merge
from waddleperf_server.workers.supervisor import SAME_KEYS, worker_config, worker_count


def test_counters_are_summed_settings_and_text_taken_once() -> None:
    a = {"state": "running", "port": 8080, "connections": 3, "max_connections": 500,
         "max_connections_per_source": 96, "sources": 2, "flag": True, "by": {"x": 1}}  # fmt: skip
    b = {"state": "running", "port": 8080, "connections": 4, "max_connections": 500,
         "max_connections_per_source": 96, "sources": 1, "flag": False, "by": {"x": 2, "y": 5},
         "only_b": 7}  # fmt: skip
    merged = merge([a, b], SAME_KEYS)
    assert merged == {"state": "running", "port": 8080, "connections": 7, "max_connections": 1000,
                      "max_connections_per_source": 96, "sources": 3, "flag": True,
                      "by": {"x": 3, "y": 5}, "only_b": 7}  # fmt: skip
    assert merge([], SAME_KEYS) == {}


def test_each_worker_gets_its_share_of_the_pool() -> None:
    cfg = server_config.load(overrides={"http.max_connections": 1001, "http.workers": 2})
    assert worker_config(cfg, 2).http.max_connections == 501
    assert worker_config(cfg, 2).http.max_connections_per_source == 96
    assert cfg.http.max_connections == 1001  # the original is left alone
    assert worker_count(cfg.http) == 2
    auto = server_config.load()
    assert auto.http.workers is None and worker_count(auto.http) >= 1
