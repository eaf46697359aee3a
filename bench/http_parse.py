"""Request-head parsing: our strict parser against h11 (the well-tested strict parser we took
as the model) and against what gevent's WSGI handler used before (``http.client``'s header
parser), per request, in microseconds. One process, no network: the cost of parsing alone.

Run with ``.venv/bin/python -m bench.http_parse``; the figures go into docs/server.md and
docs/performance.md.
"""

from __future__ import annotations

import argparse
import http.client
import io
import timeit
from collections.abc import Callable

import h11

from waddleperf_server.http import framing

#: What wrk sends, and what a browser's speed test sends.
HEADS = {
    "wrk (2 fields)": b"GET /backend/empty.php?r=0.5 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    "browser (6 fields)": (
        b"GET /backend/empty.php?r=0.5 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120\r\nAccept: */*\r\n"
        b"Accept-Encoding: gzip, deflate\r\nAccept-Language: en\r\nConnection: keep-alive\r\n\r\n"
    ),
}


def ours(raw: bytes) -> None:
    """Our parser: the head in, a Head out."""
    framing.parse_head(raw)


def with_h11(raw: bytes) -> None:
    """h11: a server connection fed the head, one event out."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    conn.next_event()


def with_http_client(raw: bytes) -> None:
    """gevent's former path: the request line read, the fields by ``http.client``."""
    fp = io.BytesIO(raw)
    fp.readline()
    http.client.parse_headers(fp)


def per_call_us(fn: Callable[[bytes], None], raw: bytes, number: int) -> float:
    """The best of five runs of ``number`` calls, microseconds per call."""
    return min(timeit.repeat(lambda: fn(raw), number=number, repeat=5)) / number * 1e6


def main() -> None:
    """Print ours against each reference, with the ratio (reference / ours: >1 is faster)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--number", type=int, default=20000, help="calls per run")
    args = ap.parse_args()
    print(f"{'measure':<48} {'ours':>10} {'reference':>10} {'ratio':>7}")
    for label, raw in HEADS.items():
        mine = per_call_us(ours, raw, args.number)
        for ref_name, ref in (("h11", with_h11), ("http.client", with_http_client)):
            theirs = per_call_us(ref, raw, args.number)
            name = f"head parse us, {label}, vs {ref_name}"
            print(f"{name:<48} {mine:>10.2f} {theirs:>10.2f} {theirs / mine:>7.2f}")


if __name__ == "__main__":
    main()
