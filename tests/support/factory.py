"""Factory fixtures: start things on demand, stop every one at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar


class Stoppable(Protocol):
    """Anything with a ``stop()``."""

    def stop(self) -> object: ...


S = TypeVar("S", bound=Stoppable)


def stopping(start: Callable[..., S]) -> Iterator[Callable[..., S]]:
    """Body of a factory fixture (``yield from stopping(start)``): yields a function that calls
    ``start`` and remembers the result; when resumed, stops all it started, in order."""
    started: list[S] = []

    def make(*args: Any, **kwargs: Any) -> S:
        started.append(start(*args, **kwargs))
        return started[-1]

    try:
        yield make
    finally:
        for item in started:
            item.stop()
