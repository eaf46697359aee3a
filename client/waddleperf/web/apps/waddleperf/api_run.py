"""JSON actions of the Run and speed test pages (admin only): probe forms, jobs, results."""

from __future__ import annotations

from typing import Any

from py4web import action, request, response

from waddleperf.web.speedtest_record import BadSpeedtest, speedtest_result, utc_now
from waddleperf.webdata import forms
from waddleperf.webdata.forms import FormError
from waddleperf.webdata.jobs import JobError, run_by, store_record

from .common import runtime
from .guards import api_admin, fail, json_body, json_csrf, me


def _user() -> str:
    user = me()
    assert user is not None  # api_admin let the request through
    return str(user["email"])


@action("api/kinds")
@action.uses(api_admin)
def kinds() -> dict[str, Any]:
    """The probe kinds a form exists for."""
    return {"kinds": forms.kinds()}


@action("api/form/<kind>")
@action.uses(api_admin)
def form(kind: str) -> dict[str, Any]:
    """Probe ``kind``'s form, from its options model."""
    try:
        return forms.form_schema(kind)
    except ValueError as exc:
        raise fail(404, str(exc)) from None


@action("api/jobs", method=["POST"])
@action.uses(api_admin, json_csrf)
def submit() -> dict[str, Any]:
    """Start a probe: ``{"kind", "values"}`` → 201 ``{"id"}``."""
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("values", {}), dict):
        raise fail(400, 'body: expected {"kind": "...", "values": {...}}')
    values = {str(k): v if isinstance(v, bool) else str(v)
              for k, v in body.get("values", {}).items()}  # fmt: skip
    try:
        job = runtime.pool.submit(_user(), str(body.get("kind", "")), values)
    except FormError as exc:
        raise fail(400, str(exc), errors=exc.errors) from None
    except JobError as exc:
        status = 403 if "not among the targets" in str(exc) else 429
        raise fail(status, str(exc)) from None
    response.status = 201
    return {"id": job}


@action("api/jobs", method=["GET"])
@action.uses(api_admin)
def jobs() -> dict[str, Any]:
    """This user's jobs, newest first."""
    return {"jobs": runtime.pool.jobs(_user())}


@action("api/jobs/<job_id>", method=["GET"])
@action.uses(api_admin)
def poll(job_id: str) -> dict[str, Any]:
    """A job's state, new lines after ``cursor`` and, once finished, its record."""
    try:
        cursor = int(request.query.get("cursor") or 0)
    except ValueError:
        raise fail(400, "cursor: not a whole number") from None
    try:
        return runtime.pool.poll(job_id, cursor, user=_user())
    except JobError as exc:
        raise fail(404, str(exc)) from None


@action("api/jobs/<job_id>/cancel", method=["POST"])
@action.uses(api_admin, json_csrf)
def cancel(job_id: str) -> dict[str, Any]:
    """Stop a job (it returns what it measured)."""
    try:
        return {"cancelled": runtime.pool.cancel(job_id, user=_user())}
    except JobError as exc:
        raise fail(404, str(exc)) from None


@action("api/speedtest", method=["POST"])
@action.uses(api_admin, json_csrf)
def speedtest_save() -> dict[str, Any]:
    """Store the browser speed test's result (checked figure by figure) as a record."""
    try:
        result = speedtest_result(json_body(), [s.url for s in runtime.servers], runtime.agent,
                                  utc_now())  # fmt: skip
    except BadSpeedtest as exc:
        raise fail(400, f"speed test result: {exc}") from None
    result = run_by(result, _user())
    if runtime.store is None:
        raise fail(503, "no results store is configured")
    try:
        key = store_record(runtime.store, result)
    except Exception as exc:  # the store's own sentence (disk full, S3 refused …)
        raise fail(503, f"the result was not stored: {exc}") from None
    response.status = 201
    return {"id": key, "status": result.status.value}
