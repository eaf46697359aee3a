"""Answer any exception as a JSON 500 and log it (the error endpoint raises on purpose)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from targets.common import api

log = logging.getLogger("waddleperf.target.django")


class JsonErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse:
        log.error("%s %s raised", request.method, request.path, exc_info=exception)
        return JsonResponse(api.error_payload(exception), status=500)
