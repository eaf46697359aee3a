"""The background task queue: Celery with Redis when configured, otherwise an in-process worker."""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger("waddleperf.target.tasks")

#: Pending in-process tasks above this are refused rather than growing memory without bound.
MAX_PENDING = 10_000


class InProcessWorker:
    """One daemon thread per (gunicorn worker) process draining a bounded queue of callables.

    Started lazily on first use so it is created after gunicorn forks, never before.
    """

    def __init__(self, name: str = "waddleperf-task-worker") -> None:
        self._name = name
        self._queue: queue.Queue[tuple[str, Callable[..., Any], tuple[Any, ...]]] = queue.Queue(
            MAX_PENDING
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.done = 0

    def submit(self, func: Callable[..., Any], *args: Any) -> str:
        """Queue ``func(*args)``; returns the task id at once."""
        self._ensure_started()
        task_id = uuid.uuid4().hex
        self._queue.put_nowait((task_id, func, args))
        return task_id

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pending(self) -> int:
        return self._queue.qsize()

    def _ensure_started(self) -> None:
        with self._lock:
            if not self.alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            task_id, func, args = self._queue.get()
            try:
                func(*args)
                self.done += 1
            except Exception:
                # a failed background task must not kill the worker thread
                log.exception("task %s failed", task_id)


def make_celery(main: str, broker: str) -> Any:
    """A Celery app on ``broker`` that keeps no results (the API only returns the task id)."""
    # imported only when a broker is configured
    from celery import Celery  # type: ignore[import-untyped]

    app = Celery(main, broker=broker)
    app.conf.update(
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        broker_transport_options={"socket_timeout": 5, "socket_connect_timeout": 5},
    )
    return app


def broker_status(celery_app: Any, timeout_s: float = 2.0) -> dict[str, Any]:
    """Whether the Celery broker answers within ``timeout_s`` seconds."""
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)
        return {"status": "ok", "backend": "celery"}
    except Exception as exc:  # any broker failure is a degraded component, not a crash
        return {"status": "failed", "backend": "celery", "error": f"{type(exc).__name__}: {exc}"}


class InsertQueue:
    """Where a target's background insert goes: a Celery task when a broker is configured
    (``CELERY_BROKER_URL``), otherwise this process's in-process worker.

    Both targets build one at import time; the module's ``celery_app`` is what
    ``celery -A targets.<app>.tasks worker`` finds.
    """

    def __init__(self, app_name: str, task_name: str, insert: Callable[[str, float], None]):
        from targets.common.config import broker_url

        broker = broker_url()
        self.celery_app: Any = make_celery(app_name, broker) if broker else None
        self._insert = insert
        self._task: Any = (
            self.celery_app.task(name=task_name)(insert) if self.celery_app is not None else None
        )
        self._worker = InProcessWorker()

    def submit(self, name: str, value: float) -> tuple[str, str]:
        """Queue one insert; returns (task id, backend name)."""
        if self._task is not None:
            return str(self._task.delay(name, value).id), "celery"
        return self._worker.submit(self._insert, name, value), "in-process"

    def status(self) -> dict[str, Any]:
        """Health of the task backend."""
        if self.celery_app is not None:
            return broker_status(self.celery_app)
        return {"status": "ok", "backend": "in-process", "pending": self._worker.pending()}
