"""The production sink: each cycle one bundle in the spool, uploaded to the store, geo-tagged.

Wires the results package (``BundleWriter`` → ``Spool`` → ``Uploader`` → local or S3 store,
``GeoTagger``) behind :class:`waddleperf.autoperf.sink.Sink`. The uploader drains on a
background thread, woken after each cycle; at exit one last pass runs (skipped when stopping
on a signal: the bundle is safe in the spool and goes out at the next start).

A bundle the spool refuses (its disk nearly full) is not lost: it is kept in memory
(:mod:`waddleperf.results.pending`, bounded by ``storage.pending_max_bytes`` and
``pending_max_bundles``), the uploader is woken to send it straight to the store (it leaves
memory once the store confirmed it), and it is offered to the spool again every cycle, whenever
the uploader has freed space, and once more at exit — without the reference tools' raw outputs
if only that fits. Only exceeding the memory bound (or exiting with the disk still full and the
store unreachable) drops a bundle, with an ERROR, and the next bundle carries an
``autoperf.bundle_dropped`` record of it.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from waddleperf.autoperf.config import AutoPerfConfig
from waddleperf.autoperf.sink import CYCLE_MEMBER
from waddleperf.results.bundle import BundleWriter
from waddleperf.results.geo import GeoTagger
from waddleperf.results.model import Result, Status, utc_now
from waddleperf.results.pending import Choice, Limits, PendingBundle, PendingQueue
from waddleperf.results.spool import Spool
from waddleperf.results.stores import Store
from waddleperf.results.uploader import Uploader

log = logging.getLogger("waddleperf.autoperf")
#: Seconds the uploader thread gets to finish its current upload at close (when stopping on a
#: signal, a short wait: an interrupted upload is retried from the spool at the next start).
JOIN_S, JOIN_STOP_S = 10.0, 0.5


#: Raw members kept when raw outputs are shed: the cycle summary (small; the only copy of the
#: agent's labels).
KEEP_WHEN_SHEDDING = (CYCLE_MEMBER,)
#: Record kind of a bundle the agent had to drop (memory bound exceeded with the disk full).
DROPPED_KIND = "autoperf.bundle_dropped"

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
        from waddleperf.results.stores.s3 import S3Store

        return S3Store(store.s3)
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
        return self.owner.deliver(self.writer)


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
        agent: str | None = None,
        *,
        pending: Limits,
    ) -> None:
        self.spool = spool
        self.agent = agent
        self.pending = PendingQueue(pending)
        # Guards the pending queue and writes of pending bundles (agent and uploader threads).
        self._pending_lock = threading.Lock()
        #: Records of dropped bundles, added to the next bundle begun.
        self._drop_records: list[Result] = []
        spool.on_removed = self._space_freed
        self._discover = discover
        self._discovered: str | None = None
        self.uploader = Uploader(spool, store, held=self)
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
        limits = Limits(storage.pending_max_bytes, storage.pending_max_bundles)
        return cls(spool, make_store(cfg), tagger, geo.public_ip, cfg.agent.labels,
                   discover=discover, pending=limits, agent=cfg.agent.id)  # fmt: skip

    def begin_cycle(self, agent: str, run_id: str, started_at: datetime) -> _Cycle:
        """A bundle writer for this cycle, writing into the spool."""
        self.agent = self.agent or agent
        writer = BundleWriter(self.spool, agent=agent, run_id=run_id, started_at=started_at)
        with self._pending_lock:
            drops, self._drop_records = self._drop_records, []
        for record in drops:
            writer.add_result(record.model_copy(update={"run_id": run_id}))
        return _Cycle(self, writer)

    # -- a full disk: bundles kept in memory -----------------------------------------------

    def deliver(self, writer: BundleWriter) -> str:
        """Put a finished cycle's bundle in the spool, or keep it in memory if it does not fit.

        Older pending bundles are offered first; while any still waits, the new one queues
        behind it (order is kept). Returns where the bundle is, for people.
        """
        end = max(utc_now(), writer.started_at)
        with self._pending_lock:
            try:
                self._flush_locked()
                if not self.pending:
                    receipt = writer.finalize(end, keep_if_refused=True)
                    if receipt.accepted and receipt.path is not None:
                        self.uploaded_soon()
                        return str(receipt.path)
                entry = self._hold(writer, end)
            finally:
                writer.close()
            self._queue_locked(entry)
            self._flush_locked()  # the slim archive may fit where the full one did not
            if entry.name in self.pending.names():
                self._warn_pending(entry.name)
                self.uploaded_soon()  # the store may take it straight from memory
                return f"pending in memory (spool disk nearly full): {entry.name}"
            if (self.spool.directory / entry.name).exists():
                return str(self.spool.directory / entry.name)
        # over the memory bound on its own: dropped (ERROR logged, record queued)
        raise RuntimeError(f"bundle {entry.name} was dropped: the spool disk is full and it "
                           "does not fit the in-memory bound for pending bundles")  # fmt: skip

    def _hold(self, writer: BundleWriter, end: datetime) -> PendingBundle:
        full = writer.render(end)
        reason = (
            f"spool disk nearly full (free {self.spool.free_bytes()} B, "
            f"floor {self.spool.min_free_bytes} B)"
        )
        slim: bytes | None = None
        note = ""
        if writer.shed_expendable(reason, KEEP_WHEN_SHEDDING):
            slim = writer.render(end)
            if len(slim) < len(full):
                note = f"{len(full) - len(slim)} B less"
            else:
                slim = None  # shedding does not make it smaller (tiny raw outputs)
        return PendingBundle(writer.filename, full, slim, note)

    def _queue_locked(self, entry: PendingBundle) -> None:
        for lost in self.pending.add(entry):
            self._dropped(lost, "the in-memory bound for pending bundles "
                                f"({self.pending.limits.max_bundles} bundles, "
                                f"{self.pending.limits.max_bytes} B) was exceeded")  # fmt: skip

    def _dropped(self, lost: PendingBundle, why: str) -> None:
        """Log a lost bundle as an ERROR and queue a record of it for the next bundle."""
        total = self.pending.dropped_total
        log.error(
            "bundle %s (%d B) DROPPED, its results are lost: %s while the spool disk is full "
            "(dropped so far: %d)", lost.name, len(lost.full), why, total,
        )  # fmt: skip
        now = utc_now()
        self._drop_records.append(
            Result(
                kind=DROPPED_KIND,
                target=str(self.spool.directory),
                started_at=now - timedelta(microseconds=1),
                finished_at=now,
                agent=self.agent or "unknown",
                run_id="dropped",
                status=Status.FAILED,
                error=f"bundle {lost.name} was dropped: {why} while the spool disk was full",
                metrics={"size_bytes": len(lost.full), "dropped_count": total},
                info={"bundle": lost.name},
            )
        )

    def _warn_pending(self, name: str) -> None:
        log.warning(
            "spool disk nearly full: bundle %s kept in memory, not lost (free %d B, floor %d B); "
            "%d bundle(s), %d B pending in memory (bound: %d bundles, %d B); it goes straight "
            "to the store when that takes writes, or to the spool when it has room", name,
            self.spool.free_bytes(), self.spool.min_free_bytes, len(self.pending),
            self.pending.held_bytes, self.pending.limits.max_bundles, self.pending.limits.max_bytes,
        )  # fmt: skip

    def _flush_locked(self) -> int:
        """Write pending bundles that fit, oldest first; stop at the first that does not."""
        written = 0
        while self.pending:
            entry, choice = self.pending.next_write(self.spool.headroom())
            if choice is Choice.WAIT:
                break
            # the estimate may be short (blocks, a quota): then the slim archive, if any
            retry_slim = choice is Choice.FULL and entry.slim is not None
            if not self._write_pending(entry, choice) and not (
                retry_slim and self._write_pending(entry, Choice.SLIM)
            ):
                break
            written += 1
        if written:
            self.uploaded_soon()
            if self.pending:
                log.warning("%d bundle(s) still pending in memory (%d B)",
                            len(self.pending), self.pending.held_bytes)  # fmt: skip
        return written

    def _write_pending(self, entry: PendingBundle, choice: Choice) -> bool:
        data = entry.full if choice is Choice.FULL or entry.slim is None else entry.slim
        if (self.spool.directory / entry.name).exists():
            log.warning("pending bundle %s is already in the spool; not written twice", entry.name)
            self.pending.written(entry.name)
            return True
        receipt = self.spool.write_bundle(entry.name, lambda out: out.write(data))
        if not receipt.accepted:
            return False
        self.pending.written(entry.name)
        if data is entry.full and not entry.full_is_slim:
            log.warning("pending bundle %s is in the spool now (kept in memory until the disk "
                        "had room)", entry.name)  # fmt: skip
        else:
            log.warning("pending bundle %s is in the spool now WITHOUT its raw tool outputs "
                        "(%s) to fit the nearly full disk; the manifest lists what was dropped",
                        entry.name, entry.shed_note)  # fmt: skip
        return True

    def _space_freed(self) -> None:
        """The uploader removed a bundle: offer pending ones again (never blocks, never raises)."""
        if not self.pending or not self._pending_lock.acquire(blocking=False):
            return
        try:
            self._flush_locked()
        except Exception:
            log.exception("writing pending bundles after an upload failed")
        finally:
            self._pending_lock.release()

    # -- the uploader's view of the pending queue (results.uploader.HeldBundles) ------------

    def held_names(self) -> list[str]:
        """Names of the bundles pending in memory, oldest first."""
        with self._pending_lock:
            return self.pending.names()

    def checkout(self, name: str) -> bytes | None:
        """Claim a pending bundle for an upload straight to the store; its best archive."""
        with self._pending_lock:
            entry = self.pending.claim(name)
            return None if entry is None else entry.full

    def checkin(self, name: str, location: str | None) -> None:
        """The upload of a claimed bundle ended: stored at ``location`` (it leaves memory), or
        failed (None: it stays, for the spool or the next try)."""
        with self._pending_lock:
            if location is None:
                self.pending.release(name)
                return
            entry = self.pending.stored(name)
            log.warning(
                "pending bundle %s is in the store now, sent straight from memory%s (%s); "
                "%d bundle(s) still pending in memory", name,
                " WITHOUT its raw tool outputs" if entry.full_is_slim else "", location,
                len(self.pending),
            )  # fmt: skip

    def flush_pending(self) -> int:
        """Offer the pending bundles to the spool now; return how many went in."""
        with self._pending_lock:
            return self._flush_locked()

    def uploaded_soon(self) -> None:
        """Wake the uploader: a bundle is waiting."""
        self.uploader.notify()

    def close(self, drain: bool = True) -> int:
        """Stop the uploader; with ``drain``, one last pass so a ``--once`` run is stored.

        Bundles pending in memory are offered to the spool once more (also when stopping on a
        signal); what still does not fit is lost, each with an ERROR. Returns how many bundles
        were dropped over the sink's life.
        """
        self.flush_pending()
        self.uploader.stop()
        if self._thread is not None:
            self._thread.join(JOIN_S if drain else JOIN_STOP_S)
        if drain:
            report = self.uploader.drain_once()
            if self.pending and self.flush_pending():
                report = self.uploader.drain_once()  # the final pass made room for them
            if report.remaining:
                log.warning("%d bundle(s) left in the spool for the next run", report.remaining)
        elif self.pending:
            # On a signal the spool keeps its bundles for the next start; these have no copy.
            self.uploader.drain_once(memory_only=True)
        with self._pending_lock:
            self.spool.on_removed = None
            for lost in self.pending.take_all():
                self.pending.dropped_total += 1
                self._dropped(lost, "the agent stopped")
        if self.pending.kept_total or self.pending.dropped_total:  # the counts, once, at exit
            level = logging.ERROR if self.pending.dropped_total else logging.WARNING
            log.log(level, "%s", self.pending.summary())
        self.tagger.close()
        self.spool.close()
        return self.pending.dropped_total
