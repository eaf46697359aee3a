"""The production sink: each cycle one bundle in the spool, uploaded to the store, geo-tagged.

Wires the results package (``BundleWriter`` → ``Spool`` → ``Uploader`` → local or S3 store,
``GeoTagger``) behind :class:`waddleperf.autoperf.sink.Sink`. The uploader drains on a
background thread, woken after each cycle; at exit one last pass runs (skipped when stopping
on a signal: the bundle is safe in the spool and goes out at the next start).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
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


def make_store(cfg: AutoPerfConfig) -> Store:
    """The configured store: a local directory (default) or an S3 bucket."""
    store = cfg.storage.store
    if store.kind == "s3" and store.s3 is not None:
        from waddleperf.results.stores.s3 import S3Config, S3Store

        s3 = store.s3
        return S3Store(S3Config(s3.bucket, s3.prefix, s3.endpoint_url, s3.region))
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
        address = self.owner.public_ip or self.client_ip
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
    ) -> None:
        self.spool = spool
        self.uploader = Uploader(spool, store)
        self.tagger = tagger
        self.public_ip = public_ip
        self.labels = dict(labels or {})
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self.uploader.run, name="upload", daemon=True)
            self._thread.start()

    @classmethod
    def from_config(cls, cfg: AutoPerfConfig) -> BundleSink:
        """Open the spool (its own lock), the store and the geo databases."""
        spool = Spool(cfg.storage.spool_dir).open()
        geo = cfg.geoip
        tagger = GeoTagger(geo.city_db, geo.asn_db, treat_as_public=geo.treat_as_public)
        return cls(spool, make_store(cfg), tagger, geo.public_ip, cfg.agent.labels)

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
