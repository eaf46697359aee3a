"""Debian's real Prometheus for tests: on loopback, a generated config, storage in a temporary
directory, stopped by :meth:`Prometheus.stop`; and its HTTP API's answers as Python values."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from waddleperf.localstack import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@dataclass
class Prometheus:
    """A running Prometheus; its log is ``log``."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params: str) -> Any:
        """``/api/v1/<path>``'s ``data`` (AssertionError with the error when not a success)."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as resp:
            doc = json.loads(resp.read())
        assert doc.get("status") == "success", doc
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector: ``[{"metric": {...}, "value": [t, "v"]}, …]``."""
        return list(self.api("query", query=expr)["result"])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """A range query's matrix: ``[{"metric": {...}, "values": [[t, "v"], …]}, …]``."""
        data = self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=f"{step:g}")  # fmt: skip
        return list(data["result"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # only the Prometheus this helper started
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def scrape_job(name: str, targets: Sequence[str], token_file: Path | None = None) -> dict[str, Any]:
    """One ``scrape_configs`` entry (``token_file``: sent as a bearer token)."""
    job: dict[str, Any] = {"job_name": name, "static_configs": [{"targets": list(targets)}]}
    if token_file is not None:
        job["authorization"] = {"type": "Bearer", "credentials_file": str(token_file)}
    return job


def start_prometheus(tmp: Path, jobs: Sequence[dict[str, Any]], interval_s: float = 1.0,
                     ready_timeout: float = 30.0) -> Prometheus:  # fmt: skip
    """Prometheus scraping ``jobs`` every ``interval_s``, ready (``/-/ready``) or stopped."""
    every = f"{int(interval_s * 1000)}ms"
    config = {"global": {"scrape_interval": every, "evaluation_interval": every},
              "scrape_configs": list(jobs)}  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp / "prometheus.log"
    argv = [PROMETHEUS, f"--config.file={path}", f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
    prom = Prometheus(proc, port, log)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    return prom
        except OSError:
            time.sleep(0.2)
    prom.stop()
    raise RuntimeError(f"prometheus did not become ready: {log.read_text()[-1500:]}")
