"""Background insert for the Flask target: a Celery task when a broker is set, else in-process.

The Celery worker runs ``celery -A targets.flask_app.tasks worker``.
"""

from __future__ import annotations

from typing import Any

from targets.common.config import broker_url
from targets.common.tasks import InProcessWorker, broker_status, make_celery
from targets.flask_app import db

_BROKER = broker_url()
celery_app: Any = make_celery("waddleperf_flask_target", _BROKER) if _BROKER else None
_worker = InProcessWorker()


def _insert(name: str, value: float) -> None:
    db.insert_row(name, value)


if celery_app is not None:
    insert_row_task = celery_app.task(name="waddleperf.flask.insert_row")(_insert)


def submit(name: str, value: float) -> tuple[str, str]:
    """Queue one insert; returns (task id, backend name)."""
    if celery_app is not None:
        return str(insert_row_task.delay(name, value).id), "celery"
    return _worker.submit(_insert, name, value), "in-process"


def status() -> dict[str, Any]:
    """Health of the task backend."""
    if celery_app is not None:
        return broker_status(celery_app)
    return {"status": "ok", "backend": "in-process", "pending": _worker.pending()}
