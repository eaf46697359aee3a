"""Background insert for the Flask target: a Celery task when a broker is set, else in-process.

The Celery worker runs ``celery -A targets.flask_app.tasks worker``.
"""

from __future__ import annotations

from targets.common.tasks import InsertQueue
from targets.flask_app import db

_queue = InsertQueue("waddleperf_flask_target", "waddleperf.flask.insert_row", db.insert_row)
celery_app = _queue.celery_app
submit = _queue.submit
status = _queue.status
