"""Requests answered, by endpoint and status: one counter bump per reply, read by /metrics.

A ``Counter`` keyed by ``(endpoint, status)`` costs one dict update on the hot path; the
endpoint is the view's name (``empty``, ``echo``, ``small`` …) or ``unmatched``, so the key set
is bounded by the routes and the status codes.
"""

from __future__ import annotations

from collections import Counter

UNMATCHED = "unmatched"


class RequestTally:
    """Per-process counts of replies; summed over workers through the HTTP status."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, int]] = Counter()

    def add(self, endpoint: str | None, status: int) -> None:
        """Count one reply of ``endpoint`` (None: no route matched) with ``status``."""
        self.counts[(endpoint or UNMATCHED, status)] += 1

    def as_status(self) -> dict[str, dict[str, int]]:
        """``{endpoint: {status: count}}``, JSON-ready (worker statuses merge by summing)."""
        out: dict[str, dict[str, int]] = {}
        for (endpoint, status), count in list(self.counts.items()):
            out.setdefault(endpoint, {})[str(status)] = count
        return out


def view_name(endpoint: str | None) -> str | None:
    """Flask's endpoint without its blueprint (``librespeed_backend.empty`` → ``empty``)."""
    return None if endpoint is None else endpoint.rsplit(".", 1)[-1]
