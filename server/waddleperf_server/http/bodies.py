"""Request and response bodies without holding them in memory: draining uploads, streaming bytes.

Pure code over a reader (anything with ``read(n)``) and a byte buffer, so it is unit-tested
without a server. The HTTP handlers wrap these with the WSGI input stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

READ_CHUNK = 256 * 1024  # large reads keep uploads at full speed with few system calls
WRITE_CHUNK = 1024 * 1024
# How much of a refused (413) body we still read and discard so the connection stays usable.
# Beyond this the connection is closed instead: reading gigabytes only to refuse them is waste.
DISCARD_BUDGET_BYTES = 64 * 1024 * 1024


class Reader(Protocol):
    """The part of a file-like stream the drain needs."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end of the body."""
        ...


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What draining a body found: its size in bytes and whether it fitted the limit."""

    received_bytes: int
    complete: bool  # the body ended (False: we stopped reading, the connection must close)
    over_limit: bool  # more than the limit arrived


def drain(
    reader: Reader,
    limit: int,
    budget: int = DISCARD_BUDGET_BYTES,
    chunk: int = READ_CHUNK,
) -> DrainResult:
    """Read ``reader`` to its end and discard it, counting bytes.

    Stops reading once more than ``limit + budget`` bytes arrived, so a sender that never
    stops cannot keep the handler busy. Each read is at most ``chunk`` bytes: memory use is
    bounded whatever the body's size.
    """
    total = 0
    hard_stop = limit + budget
    while True:
        data = reader.read(chunk)
        if not data:
            return DrainResult(total, complete=True, over_limit=total > limit)
        total += len(data)
        if total > hard_stop:
            return DrainResult(total, complete=False, over_limit=True)


def repeat_stream(buffer: bytes, total: int, chunk: int = WRITE_CHUNK) -> Iterator[memoryview]:
    """Yield exactly ``total`` bytes taken cyclically from ``buffer``, never copying it.

    Slices are views on the one buffer, so a multi-gigabyte response costs no memory.
    """
    if not buffer:
        raise ValueError("buffer must not be empty")
    view = memoryview(buffer)
    size = len(view)
    step = min(chunk, size)
    sent = 0
    offset = 0
    while sent < total:
        n = min(step, total - sent, size - offset)
        yield view[offset : offset + n]
        sent += n
        offset = (offset + n) % size
