"""Views of the Django target; shapes come from targets.common.api."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from targets.common import api
from targets.django_app import tasks
from targets.django_app.models import TestData


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(api.index_html("django"), content_type="text/html")


@require_GET
def data(request: HttpRequest) -> JsonResponse:
    page = api.parse_page(request.GET)
    count = TestData.objects.count()
    rows = [
        api.row_payload(int(r.pk), r.name, r.value, r.created_at)
        for r in TestData.objects.order_by("-id")[page.offset : page.offset + page.size]
    ]
    return JsonResponse(api.page_payload(rows, count, page))


@require_POST
def task(request: HttpRequest) -> JsonResponse:
    task_id, backend = tasks.submit(*api.new_row_values())
    return JsonResponse(api.task_payload(task_id, backend), status=202)


@require_POST
def error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"result": api.trigger_error()})


def _database_status() -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        connection.ensure_connection()
        rows = TestData.objects.count()
    except Exception as exc:  # a broken database is reported, not raised
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    ms = round((time.perf_counter() - t0) * 1000, 3)
    return {"status": "ok", "engine": connection.vendor, "rows": rows, "latency_ms": ms}


@require_GET
def warmup(request: HttpRequest) -> JsonResponse:
    apm: dict[str, Any] = (
        {"status": "ok", "agent": "honeybadger", "endpoint": "loopback only"}
        if settings.APM_ENABLED
        else {"status": "disabled"}
    )
    components = {"database": _database_status(), "task_queue": tasks.status(), "apm": apm}
    return JsonResponse(api.warmup_payload(components))
