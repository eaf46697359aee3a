"""The UI process's composition root: its settings, the agent's configuration it serves, the
report catalog, the probe pool and the login limiter — made once by ``waddleperf ui`` (or a
test) before py4web imports the app, which reads them through :func:`current`.

The app holds no state of its own beyond its database: what one ``UiRuntime`` holds is what one
UI process shares between its request threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waddleperf.autoperf.config import AutoPerfConfig, load
from waddleperf.results.stores import Store
from waddleperf.web.login_limits import LoginLimiter
from waddleperf.web.settings import UiConfig
from waddleperf.webdata.jobs import JobPool
from waddleperf.webdata.policy import TargetPolicy
from waddleperf.webdata.store import Catalog
from waddleperf_common.config import ConfigError

log = logging.getLogger("waddleperf.ui")
CATALOG_FILE = "catalog.duckdb"


@dataclass(frozen=True)
class SpeedServer:
    """A server the speed test page offers: its name and LibreSpeed backend base URL."""

    name: str
    url: str


def sources_of(cfg: AutoPerfConfig) -> tuple[list[str], str | None]:
    """What History shows (``ui.results``, else the agent's store) and the S3 endpoint."""
    store = cfg.storage.store
    endpoint = store.s3.endpoint_url if store.s3 is not None else None
    if cfg.ui.results:
        return list(cfg.ui.results), endpoint
    if store.kind == "s3" and store.s3 is not None:
        prefix = store.s3.prefix.strip("/")
        return [f"s3://{store.s3.bucket}/{prefix}".rstrip("/")], endpoint
    return [str(store.dir)], None


def check_config(path: Path | None) -> dict[str, Any]:
    """The agent's configuration file, validated now (the Fleet page shows it)."""
    try:
        cfg = load(path)
    except ConfigError as exc:
        return {"path": str(path) if path else None, "ok": False, "errors": str(exc).splitlines(),
                "summary": {}}  # fmt: skip
    summary = {"agent": cfg.agent.id, "servers": [s.label for s in cfg.servers],
               "targets": [t.name for t in cfg.targets], "store": cfg.storage.store.kind,
               "probes per tier": " · ".join(
                   f"tier {n}: {len(cfg.tiers.tier(n).probes)}" for n in (1, 2, 3))}  # fmt: skip
    return {"path": str(path) if path else None, "ok": True, "errors": [], "summary": summary}


@dataclass
class UiRuntime:
    """Everything one UI process shares between requests."""

    cfg: AutoPerfConfig
    config_path: Path | None
    catalog: Catalog
    pool: JobPool
    limiter: LoginLimiter
    sources: list[str]
    endpoint_url: str | None
    servers: list[SpeedServer]
    store: Store | None
    _stop: threading.Event = field(default_factory=threading.Event)
    _refresher: threading.Thread | None = None

    @property
    def ui(self) -> UiConfig:
        """The ``ui:`` section."""
        return self.cfg.ui

    @property
    def agent(self) -> str:
        """The agent name records made here carry."""
        from waddleperf.results.model import default_agent

        return self.cfg.agent.id or default_agent()

    def refresh(self) -> dict[str, int]:
        """Ingest the sources' new bundles into the catalog (counts)."""
        return self.catalog.ingest(self.sources, self.endpoint_url)

    def start_refresher(self) -> None:
        """Re-read the sources every ``ui.refresh_s`` seconds (0: never) in the background."""
        if self.ui.refresh_s <= 0 or self._refresher is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.ui.refresh_s):
                try:
                    self.refresh()
                except Exception as exc:  # the next round tries again; the page shows old data
                    log.warning("refresh of %s failed: %s", ", ".join(self.sources), exc)

        self._refresher = threading.Thread(target=loop, name="ui-refresh", daemon=True)
        self._refresher.start()

    def close(self) -> None:
        """Stop the refresher and the probe pool, close the catalog."""
        self._stop.set()
        self.pool.close()
        self.catalog.close()


def build(config_path: Path | None = None, overrides: Mapping[str, Any] | None = None,
          environ: Mapping[str, str] | None = None) -> UiRuntime:  # fmt: skip
    """The runtime of a UI over the agent configuration at ``config_path`` (ConfigError naming
    the key when it is invalid). The catalog is read once before this returns."""
    from waddleperf.autoperf.bundles import make_store

    cfg = load(config_path, environ=environ, overrides=overrides)
    ui = cfg.ui
    try:
        policy = TargetPolicy.parse(ui.allowed_networks, ui.allowed_hosts)
    except ValueError as exc:
        raise ConfigError(f"ui.{exc}") from None
    ui.data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(cfg)
    sources, endpoint = sources_of(cfg)
    servers = [SpeedServer(s.label, s.base_url + "/backend/") for s in cfg.servers]
    runtime = UiRuntime(
        cfg=cfg, config_path=config_path, catalog=Catalog(ui.data_dir / CATALOG_FILE),
        pool=JobPool(ui.workers, ui.per_user, max(ui.queue, ui.workers), store=store,
                     policy=policy, agent=cfg.agent.id),
        limiter=LoginLimiter(ui.login.per_address, ui.login.per_account, ui.login.window_s),
        sources=sources, endpoint_url=endpoint, servers=servers, store=store,
    )  # fmt: skip
    try:
        runtime.refresh()
    except Exception as exc:  # an empty or unreachable store: the UI starts, History is empty
        log.warning("reading %s failed: %s", ", ".join(sources), exc)
    return runtime


_current: UiRuntime | None = None


def install(runtime: UiRuntime) -> None:
    """Make ``runtime`` the one the app serves (before py4web imports it)."""
    global _current
    _current = runtime


def current() -> UiRuntime:
    """The installed runtime; RuntimeError when the app was imported without one."""
    if _current is None:
        raise RuntimeError("waddleperf ui: no runtime installed (start it with `waddleperf ui`)")
    return _current
