"""Background insert for the Django target: a Celery task when a broker is set, else in-process.

The Celery worker runs ``celery -A targets.django_app.tasks worker``.
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "targets.django_app.settings")
django.setup()

from django.db import connection  # noqa: E402  (needs django.setup() first)

from targets.common.tasks import InsertQueue  # noqa: E402
from targets.django_app.models import TestData  # noqa: E402


def _insert(name: str, value: float) -> None:
    try:
        TestData.objects.create(name=name, value=value)
    finally:
        # the worker thread owns a connection of its own; do not leak it between tasks
        connection.close_if_unusable_or_obsolete()


_queue = InsertQueue("waddleperf_django_target", "waddleperf.django.insert_row", _insert)
celery_app = _queue.celery_app
submit = _queue.submit
status = _queue.status
