"""Escalation events as result records, and a tiny event bus (cf. Locust's ``events``).

An escalation or de-escalation is one record of kind ``autoperf.event`` whose ``info`` holds
``from_tier``, ``to_tier``, ``reason``, ``metric``, ``value``, ``threshold`` and ``server``: the
same store and the same analysis as every measurement. The ``transition`` hook hears the
policy's :class:`Transition` beside that record (:class:`TransitionEvent`), so listeners decide
from the transition and send the record as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from waddleperf.autoperf.policy import Transition
from waddleperf.autoperf.summary import CycleSummary
from waddleperf.results.model import Result, Scalar, Status, utc_now

EVENT_KIND = "autoperf.event"
log = logging.getLogger("waddleperf.autoperf")

T = TypeVar("T")


class EventHook(Generic[T]):
    """Listeners called in order with one payload; a listener's exception is logged, not raised.

    An extension (a notifier, the progress display) must never stop a measurement cycle.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[[T], None]] = []

    def add_listener(self, listener: Callable[[T], None]) -> Callable[[T], None]:
        """Register ``listener``; returned so it can be used as a decorator."""
        self._listeners.append(listener)
        return listener

    def fire(self, payload: T) -> None:
        """Call every listener with ``payload``."""
        for listener in list(self._listeners):
            try:
                listener(payload)
            except Exception:
                log.exception("listener of %s failed", self.name)


@dataclass(frozen=True)
class TransitionEvent:
    """A change of tier and the ``autoperf.event`` record that keeps it."""

    transition: Transition
    record: Result


class Events:
    """The agent's hooks: ``transition`` (a tier change with its record), ``result`` (any
    record), ``step`` (a progress line for people), ``cycle`` (a cycle ended: its summary),
    ``quitting`` (the agent is closing; True when it was told to stop)."""

    def __init__(self) -> None:
        self.transition: EventHook[TransitionEvent] = EventHook("transition")
        self.result: EventHook[Result] = EventHook("result")
        self.step: EventHook[str] = EventHook("step")
        self.cycle: EventHook[CycleSummary] = EventHook("cycle")
        self.quitting: EventHook[bool] = EventHook("quitting")


def event_info(tr: Transition) -> dict[str, Scalar]:
    """What an event record (and the cycle summary) says of one transition."""
    cause = tr.cause
    return {
        "event": "escalation" if tr.escalation else "deescalation",
        "server": tr.server,
        "from_tier": tr.from_tier,
        "to_tier": tr.to_tier,
        "reason": tr.reason,
        "metric": cause.metric if cause else None,
        "step": cause.step if cause else None,
        "value": cause.value if cause else None,
        "threshold": cause.threshold if cause else None,
        "critical": cause.critical if cause else None,
    }


def event_record(tr: Transition, agent: str, run_id: str, target: str) -> Result:
    """The ``autoperf.event`` record of one transition (``target`` is the server's host)."""
    now = utc_now()
    return Result(
        kind=EVENT_KIND,
        target=target,
        started_at=now,
        finished_at=now,
        agent=agent,
        tier=tr.to_tier,
        run_id=run_id,
        params={},
        info=event_info(tr),
        status=Status.OK,
    )
