"""Start the real ``waddleperf server`` for tests: ``waddleperf.localstack`` (what ``make run``
uses) with its log and an optional YAML config in the test's temporary directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from waddleperf.localstack import LocalServer
from waddleperf.localstack import start_server as start_local_server

__all__ = ["LocalServer", "start_server"]


def start_server(
    tmp_path: Path, config_yaml: str | None = None, args: Sequence[str] = (), **kwargs: Any
) -> LocalServer:
    """``localstack.start_server`` logging to a new file in ``tmp_path``; ``config_yaml`` is
    written beside it and passed as ``--config``, ``args`` are more flags. Other keyword
    arguments are those of ``localstack.start_server`` (host, services, env, ready_timeout)."""
    fd, name = tempfile.mkstemp(prefix="server-", suffix=".log", dir=tmp_path)
    os.close(fd)
    log_path = Path(name)
    extra = list(args)
    if config_yaml is not None:
        cfg = log_path.with_suffix(".yml")
        cfg.write_text(config_yaml)
        extra += ["--config", str(cfg)]
    return start_local_server(log_path, extra_args=extra, **kwargs)
