"""Which chart PNGs are already drawn as they should be, so a re-run redraws only the others.

Each PNG carries, in a ``tEXt`` chunk named :data:`DIGEST_KEY`, a SHA-256 of what it shows:
the chart's data as the page reads it (:meth:`Chart.to_json`) with its file name, and the
drawing code itself (the source of the chart and PNG modules and matplotlib's version), so a
change of data, of the drawing or of matplotlib makes the digest differ and the chart is
redrawn. A file that is missing, not a PNG, or carries another digest is stale. Nothing is
kept outside the PNGs, so nothing can disagree with them.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from waddleperf.report.render.charts import Chart

DIGEST_KEY = "waddleperf-chart"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The modules whose code decides a PNG's pixels (beside matplotlib itself).
_DRAWING_MODULES = ("charts.py", "png.py", "stencil.py", "pngcache.py")
#: Chunks read before giving up on finding the digest (it is written before the image data).
_MAX_CHUNKS = 16


@lru_cache(maxsize=1)
def code_digest() -> bytes:
    """SHA-256 over the drawing modules' source and matplotlib's version."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in _DRAWING_MODULES:
        h.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    try:
        h.update(metadata.version("matplotlib").encode())
    except metadata.PackageNotFoundError:
        h.update(b"no matplotlib")
    return h.digest()


@lru_cache(maxsize=4096)
def chart_digest(chart: Chart) -> str:
    """The digest a PNG of ``chart`` drawn by this code carries (worked out once a chart)."""
    doc = {"file": chart.file, **chart.to_json()}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(code_digest() + text.encode()).hexdigest()


def stored_digest(path: Path) -> str | None:
    """The digest in the PNG at ``path``; None when there is no such file, it is not a PNG or
    carries no digest before its image data."""
    try:
        with path.open("rb") as f:
            if f.read(8) != PNG_SIGNATURE:
                return None
            for _ in range(_MAX_CHUNKS):
                head = f.read(8)
                if len(head) < 8:
                    return None
                length, kind = struct.unpack(">I4s", head)
                if kind in (b"IDAT", b"IEND"):
                    return None
                body = f.read(length + 4)  # data and CRC
                if kind == b"tEXt" and len(body) == length + 4:
                    key, _, value = body[:length].partition(b"\0")
                    if key == DIGEST_KEY.encode():
                        return value.decode("latin-1")
    except OSError:
        return None
    return None


def stale(charts: Sequence[Chart], paths: Sequence[Path]) -> list[int]:
    """Indices of the charts whose PNG at the same index is missing or shows other data."""
    return [
        i
        for i, (chart, path) in enumerate(zip(charts, paths, strict=True))
        if stored_digest(path) != chart_digest(chart)
    ]
