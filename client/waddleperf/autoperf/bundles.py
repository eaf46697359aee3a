"""The production sink: each cycle one bundle in the spool, uploaded to the store, geo-tagged.

Wires the results package (``BundleWriter`` → ``Spool`` → ``Uploader`` → local or S3 store,
``GeoTagger``) behind :class:`waddleperf.autoperf.sink.Sink`. The uploader drains on a
background thread, woken after each cycle; at exit one last pass runs (skipped when stopping
on a signal: the bundle is safe in the spool and goes out at the next start).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from waddleperf.autoperf.config import AutoPerfConfig
from waddleperf.results.bundle import BundleWriter
from waddleperf.results.geo import GeoTagger
from waddleperf.results.model import Result
from waddleperf.results.spool import Spool
from waddleperf.results.stores import Store
from waddleperf.results.uploader import Uploader

log = logging.getLogger("waddleperf.autoperf")
#: Seconds the uploader thread gets to finish its current upload at close (when stopping on a
#: signal, a short wait: an interrupted upload is retried from the spool at the next start).
JOIN_S, JOIN_STOP_S = 10.0, 0.5


#: Seconds to wait for a server's getIP answer (the address the server sees us at).
GETIP_TIMEOUT_S = 3.0


def ask_public_address(base_url: str, timeout: float = GETIP_TIMEOUT_S) -> str | None:
    """Our address as the server sees it: LibreSpeed ``getIP.php``'s ``processedString``.

    None when the server cannot say (down, not ours, bad answer): geo tags then say unknown.
    """
    url = base_url.rstrip("/") + "/backend/getIP.php"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (http URL from config)
            doc = json.loads(resp.read(64 * 1024))
    except (OSError, ValueError) as exc:
        log.info("getIP from %s failed: %s", url, exc)
        return None
    text = doc.get("processedString") if isinstance(doc, dict) else None
    return text if isinstance(text, str) and text else None


def make_store(cfg: AutoPerfConfig) -> Store:
    """The configured store: a local directory (default) or an S3 bucket."""
    store = cfg.storage.store
    if store.kind == "s3" and store.s3 is not None:
        from waddleperf.results.stores.s3 import S3Config, S3Store

        s3 = store.s3
        return S3Store(
            S3Config(
                s3.bucket,
                s3.prefix,
                s3.endpoint_url,
                s3.region,
                addressing_style=s3.addressing_style,
                connect_timeout_s=s3.connect_timeout_s,
                read_timeout_s=s3.read_timeout_s,
                verify_tls=s3.verify_tls,
            )
        )
    from waddleperf.results.stores.local import LocalStore

    return LocalStore(store.dir)


class _Cycle:
    def __init__(self, owner: BundleSink, writer: BundleWriter) -> None:
        self.owner = owner
        self.writer = writer
        self.client_ip: str | None = None

    def add_result(self, result: Result) -> bool:
        ip = result.info.get("client_ip")
        if isinstance(ip, str) and ip and self.client_ip is None:
            self.client_ip = ip  # the speedtest's view of our address, for geo tags
        return self.writer.add_result(result)

    def add_profiling(self, lines: Iterable[str | Mapping[str, Any]]) -> int:
        return self.writer.add_profiling(lines)

    def add_raw(self, name: str, data: bytes) -> bool:
        return self.writer.add_raw(name, data)

    def finish(self) -> str:
        address = self.owner.public_ip or self.client_ip or self.owner.discovered_address()
        self.writer.geo.update(self.owner.tagger.tags(address))
        receipt = self.writer.finalize()
        self.owner.uploaded_soon()
        if not receipt.accepted or receipt.path is None:
            raise RuntimeError(f"the spool refused the bundle: {receipt.message}")
        return str(receipt.path)


class BundleSink:
    """Spool + uploader + geo tagger for the agent's lifetime."""

    def __init__(
        self,
        spool: Spool,
        store: Store,
        tagger: GeoTagger,
        public_ip: str | None = None,
        labels: Mapping[str, str] | None = None,
        background: bool = True,
        discover: Callable[[], str | None] | None = None,
    ) -> None:
        self.spool = spool
        self._discover = discover
        self._discovered: str | None = None
        self.uploader = Uploader(spool, store)
        self.tagger = tagger
        self.public_ip = public_ip
        self.labels = dict(labels or {})
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self.uploader.run, name="upload", daemon=True)
            self._thread.start()

    def discovered_address(self) -> str | None:
        """Our address as the first server sees it, asked once and kept (None if it can't say)."""
        if self._discovered is None and self._discover is not None:
            self._discovered = self._discover()
        return self._discovered

    @classmethod
    def from_config(cls, cfg: AutoPerfConfig) -> BundleSink:
        """Open the spool (its own lock), the store and the geo databases."""
        storage = cfg.storage
        spool = Spool(
            storage.spool_dir,
            max_bytes=storage.spool_max_bytes,
            min_free_bytes=storage.spool_min_free_bytes,
        ).open()
        geo = cfg.geoip
        tagger = GeoTagger(
            geo.city_db,
            geo.asn_db,
            coordinate_decimals=geo.coordinate_decimals,
            treat_as_public=geo.treat_as_public,
        )
        first = cfg.servers[0]
        discover = (lambda: ask_public_address(first.base_url)) if first.ports.http else None
        return cls(spool, make_store(cfg), tagger, geo.public_ip, cfg.agent.labels,
                   discover=discover)  # fmt: skip

    def begin_cycle(self, agent: str, run_id: str, started_at: datetime) -> _Cycle:
        """A bundle writer for this cycle, writing into the spool."""
        return _Cycle(self, BundleWriter(self.spool, agent=agent, run_id=run_id,
                                         started_at=started_at))  # fmt: skip

    def uploaded_soon(self) -> None:
        """Wake the uploader: a bundle is waiting."""
        self.uploader.notify()

    def close(self, drain: bool = True) -> None:
        """Stop the uploader; with ``drain``, one last pass so a ``--once`` run is stored."""
        self.uploader.stop()
        if self._thread is not None:
            self._thread.join(JOIN_S if drain else JOIN_STOP_S)
        if drain:
            report = self.uploader.drain_once()
            if report.remaining:
                log.warning("%d bundle(s) left in the spool for the next run", report.remaining)
        self.tagger.close()
        self.spool.close()
