"""Probes run from the UI, outside the request thread: a bounded pool of worker threads.

:meth:`JobPool.submit` checks the form (:func:`~waddleperf.webdata.forms.check_form`, the
CLI's validation) and the admin's :class:`~waddleperf.webdata.policy.TargetPolicy`, then
queues the run; at most ``per_user`` jobs of one user are queued or running, at most
``queue`` in all. :meth:`JobPool.poll` hands out the live lines after a cursor (the lines the
CLI prints on a terminal, :class:`waddleperf.live.LiveLines`) and, once done, the record.
:meth:`JobPool.cancel` stops a run at its next attempt: the probe returns what it measured,
status ``interrupted``. Each record is stored like any record: one bundle, through the
configured store (:func:`store_record`).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from waddleperf.live import LiveLines
from waddleperf.probes.base import ProbeOptions, Recording, RunContext, get
from waddleperf.probes.progress import Event
from waddleperf.results.bundle import BundleWriter
from waddleperf.results.model import Result, Status
from waddleperf.results.stores import Store, bundle_metadata, bundle_tags, hive_key
from waddleperf.webdata.forms import check_form
from waddleperf.webdata.policy import TargetPolicy

#: Finished jobs kept for polling (oldest dropped first).
KEEP_FINISHED = 200
MAX_LINES = 10_000
CANCELLED = "Cancelled from the UI: the figures cover what was measured until then"


class JobError(ValueError):
    """A job that cannot be started, found or cancelled; one line."""


class _Cancelled(KeyboardInterrupt):
    """Raised in the probe's own thread at its next progress report after a cancel."""


@dataclass
class Job:
    """One probe run of one user."""

    id: str
    user: str
    kind: str
    target: str
    state: str = "queued"  # queued, running, done, cancelled, failed
    lines: list[str] = field(default_factory=list)
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    stored: str | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    created: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")


#: The record's ``info`` key naming the UI user who ran it (a manual run: no tier, no step).
RUN_BY = "ui_user"


def run_by(result: Result, user: str) -> Result:
    """``result`` with the UI user who ran it in ``info`` (History's detail shows it)."""
    return result.model_copy(update={"info": {**result.info, RUN_BY: user}})


def store_record(store: Store, result: Result) -> str:
    """Store ``result`` as a one-record bundle (as AutoPerf stores a cycle); its key."""
    writer = BundleWriter(None, agent=result.agent, run_id=result.run_id,
                          started_at=result.started_at)  # fmt: skip
    try:
        writer.add_result(result)
        out = io.BytesIO()
        manifest = writer.write_archive(out, result.finished_at)
    finally:
        writer.close()
    data = out.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    key = hive_key(manifest)
    store.put(data, key, sha, bundle_tags(manifest), bundle_metadata(manifest, sha))
    return key


class JobPool:
    """``workers`` probe runs at once; ``per_user`` and ``queue`` bound what waits."""

    def __init__(self, workers: int = 4, per_user: int = 2, queue: int = 32,
                 store: Store | None = None, policy: TargetPolicy | None = None,
                 agent: str | None = None) -> None:  # fmt: skip
        if workers < 1 or per_user < 1 or queue < workers:
            raise ValueError("jobs: workers and per_user ≥ 1, queue ≥ workers")
        self.per_user, self.queue = per_user, queue
        self.store, self.policy, self.agent = store, policy or TargetPolicy(), agent
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ui-probe")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def submit(self, user: str, kind: str, values: dict[str, Any]) -> str:
        """Queue a run of probe ``kind`` with form ``values``; its job id. FormError for bad
        values, JobError when the target is not allowed or the user or pool is at its limit."""
        options = check_form(kind, values)
        try:
            self.policy.check(options.target)
        except ValueError as exc:
            raise JobError(str(exc)) from None
        with self._lock:
            active = [j for j in self._jobs.values() if not j.finished]
            if sum(j.user == user for j in active) >= self.per_user:
                raise JobError(f"jobs: {user} already has {self.per_user} probe(s) queued or "
                               "running; wait or cancel one")  # fmt: skip
            if len(active) >= self.queue:
                raise JobError(f"jobs: {self.queue} probes are queued or running; try later")
            job = Job(f"{next(self._ids)}-{secrets.token_hex(6)}", user, kind, options.target)
            self._jobs[job.id] = job
            self._prune()
        self._pool.submit(self._run, job, options)
        return job.id

    def _prune(self) -> None:
        done = [k for k, j in self._jobs.items() if j.finished]
        for key in done[: max(0, len(done) - KEEP_FINISHED)]:
            del self._jobs[key]

    def _job(self, job_id: str, user: str | None) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (user is not None and job.user != user):
            raise JobError(f"jobs: no job {job_id[:40]!r}")
        return job

    def poll(self, job_id: str, cursor: int = 0, user: str | None = None) -> dict[str, Any]:
        """State, progress, the lines after ``cursor`` and the next cursor; the record once
        done. ``user``: only that user's jobs (None: any, for an admin)."""
        job = self._job(job_id, user)
        with self._lock:
            start = max(0, min(cursor, len(job.lines)))
            lines = job.lines[start:]
            return {"id": job.id, "kind": job.kind, "target": job.target, "state": job.state,
                    "progress": {"done": job.done, "total": job.total}, "lines": lines,
                    "cursor": start + len(lines), "result": job.result, "stored": job.stored,
                    "error": job.error}  # fmt: skip

    def cancel(self, job_id: str, user: str | None = None) -> bool:
        """Ask the job to stop; False when it had finished already."""
        job = self._job(job_id, user)
        job.cancel.set()
        with self._lock:
            if job.state == "queued":
                job.state = "cancelled"
                return True
        return not job.finished

    def jobs(self, user: str | None = None) -> list[dict[str, Any]]:
        """The jobs (of ``user``), newest first, without their lines."""
        with self._lock:
            found = [j for j in self._jobs.values() if user is None or j.user == user]
        return [{"id": j.id, "user": j.user, "kind": j.kind, "target": j.target,
                 "state": j.state, "created": j.created} for j in reversed(found)]  # fmt: skip

    def wait(self, job_id: str, timeout_s: float) -> dict[str, Any]:
        """Poll until the job finished or ``timeout_s`` passed (for scripts and tests)."""
        deadline = time.monotonic() + timeout_s
        while not self._job(job_id, None).finished and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.poll(job_id)

    def close(self, cancel: bool = True) -> None:
        """Stop taking jobs; cancel the running ones (or let them finish)."""
        if cancel:
            with self._lock:
                for job in self._jobs.values():
                    job.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=cancel)

    def _add_line(self, job: Job, line: str) -> None:
        with self._lock:
            if len(job.lines) < MAX_LINES:
                job.lines.append(line)

    def _run(self, job: Job, options: ProbeOptions) -> None:
        with self._lock:
            if job.state == "cancelled":
                return
            job.state = "running"
        probe = get(job.kind)
        live = LiveLines(probe.kind, options.target)

        def events(event: Event) -> None:
            for line in live.lines(event):
                self._add_line(job, line)

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total
            if job.cancel.is_set():
                raise _Cancelled

        context = RunContext(agent=self.agent, progress=progress, events=events,
                             partial_on_interrupt=True)  # fmt: skip
        fallback = Recording(probe.kind, options, context)
        try:
            result = probe.run(options, context)
        except KeyboardInterrupt:
            result = fallback.finish(status=Status.INTERRUPTED, error=CANCELLED)
        except Exception as exc:  # a probe must not raise; if one does, a sentence
            with self._lock:
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            return
        self._finish(job, result)

    def _finish(self, job: Job, result: Result) -> None:
        result = run_by(result, job.user)
        stored, error = None, None
        if self.store is not None:
            try:
                stored = store_record(self.store, result)
            except Exception as exc:  # the record is still shown; the store's error with it
                error = f"not stored: {exc}"
        record = result.model_dump(mode="json")
        with self._lock:
            job.result, job.stored, job.error = record, stored, error
            job.state = "cancelled" if job.cancel.is_set() else "done"
