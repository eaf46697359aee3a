"""Background insert for the Django target: a Celery task when a broker is set, else in-process.

The Celery worker runs ``celery -A targets.django_app.tasks worker``.
"""

from __future__ import annotations

import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "targets.django_app.settings")
django.setup()

from django.db import connection  # noqa: E402  (needs django.setup() first)

from targets.common.config import broker_url  # noqa: E402
from targets.common.tasks import InProcessWorker, broker_status, make_celery  # noqa: E402
from targets.django_app.models import TestData  # noqa: E402

_BROKER = broker_url()
celery_app: Any = make_celery("waddleperf_django_target", _BROKER) if _BROKER else None
_worker = InProcessWorker()


def _insert(name: str, value: float) -> None:
    try:
        TestData.objects.create(name=name, value=value)
    finally:
        # the worker thread owns a connection of its own; do not leak it between tasks
        connection.close_if_unusable_or_obsolete()


if celery_app is not None:
    insert_row_task = celery_app.task(name="waddleperf.django.insert_row")(_insert)


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
