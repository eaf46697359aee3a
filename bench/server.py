"""Server benchmark: ours against the reference on the same machine, in one run, on loopback.

- download through ``garbage.php`` with parallel streams vs ``iperf3 -P`` TCP throughput
  (the practical limit of this machine), and with wrk vs the same backend in PHP under
  Debian's nginx + php-fpm;
- ``empty.php`` requests per second (wrk -t2 -c64) vs nginx + php-fpm running it in PHP,
  vs nginx answering an empty 200 (the upper bound of any backend) and vs a bare gevent WSGI
  app (the floor of our stack) — from one source address, and (as root, in a namespace of
  the benchmark's own) from eight, since our HTTP workers are steered by source;
- UDP echo packets per second and loss vs a bare blocking-socket echo loop.

Each HTTP row is the median of ``--rounds`` rounds, ours and the reference alternating.
Run with ``make bench`` (or ``.venv/bin/python -m bench.server``). Not a test: it prints figures
and ratios, which go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from bench import http_rows
from bench.http_rows import Row
from bench.reference_http import nginx_reference
from tests.support import netns
from tests.support.net import free_port, wait_until
from tests.support.server import start_server
from waddleperf_common import udp_wire

HOST = "127.0.0.1"
MEASURES = ("download", "empty", "udp")


def _download_worker(port: int, seconds: float, out: mp.Queue[int]) -> None:
    total = 0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    deadline = time.monotonic() + seconds
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    while time.monotonic() < deadline:
        conn.request("GET", "/backend/garbage.php?ckSize=64")
        resp = conn.getresponse()
        while (n := resp.readinto(view)) > 0:
            total += n
            if time.monotonic() >= deadline:
                break
        if time.monotonic() >= deadline:
            break
    conn.close()
    out.put(total)


def garbage_mbps(port: int, streams: int, seconds: float) -> float:
    """Download throughput in Mbit/s through garbage.php with ``streams`` parallel clients."""
    queue: mp.Queue[int] = mp.Queue()
    procs = [
        mp.Process(target=_download_worker, args=(port, seconds, queue)) for _ in range(streams)
    ]
    start = time.monotonic()
    for p in procs:
        p.start()
    total = sum(queue.get(timeout=seconds + 30) for _ in procs)
    elapsed = time.monotonic() - start
    for p in procs:
        p.join(timeout=10)
    return total * 8 / elapsed / 1e6


def iperf3_mbps(streams: int, seconds: float) -> float:
    """TCP throughput in Mbit/s of ``iperf3 -P streams -R`` against an iperf3 server of its own."""
    port = free_port(HOST)
    srv = subprocess.Popen(
        ["iperf3", "-s", "-B", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    argv = ["iperf3", "-c", HOST, "-p", str(port), "-P", str(streams), "-t", str(int(seconds))]
    try:
        # No readiness probe by connecting: iperf3 would count it as a (broken) test.
        for _attempt in range(20):
            out = subprocess.run(
                [*argv, "-R", "-J"], capture_output=True, text=True, timeout=seconds + 30
            )
            doc = json.loads(out.stdout or "{}")
            if "error" not in doc and out.returncode == 0:
                return float(doc["end"]["sum_received"]["bits_per_second"]) / 1e6
            time.sleep(0.2)
        raise RuntimeError(f"iperf3 failed: {doc.get('error') or out.stderr}")
    finally:
        srv.kill()
        srv.wait()


BARE_WSGI = """
from gevent.pywsgi import WSGIServer
import sys
def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]
WSGIServer(("127.0.0.1", int(sys.argv[1])), app, log=None).serve_forever()
"""

BARE_UDP = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(data, addr)
"""


def _spawn(code: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)])
    wait_until(lambda: proc.poll() is not None or _port_open(port), 10)
    return proc


def _port_open(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), 0.2).close()
        return True
    except OSError:
        return False


def udp_echo_pps(port: int, seconds: float, rate_pps: int, size: int = 64) -> tuple[float, float]:
    """Replies per second and loss % sending probe datagrams at ``rate_pps`` for ``seconds``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.connect((HOST, port))
    sock.setblocking(False)
    sent = received = 0
    start = time.monotonic()
    deadline = start + seconds
    next_send = start
    while (now := time.monotonic()) < deadline:
        while next_send <= now and sent < rate_pps * seconds:
            try:
                sock.send(udp_wire.encode(sent, time.monotonic_ns(), size))
                sent += 1
            except BlockingIOError:
                break
            next_send += 1.0 / rate_pps
        try:
            while True:
                sock.recv(65535)
                received += 1
        except BlockingIOError:
            pass
    drain_until = time.monotonic() + 0.5
    while time.monotonic() < drain_until:
        try:
            sock.recv(65535)
            received += 1
        except BlockingIOError:
            time.sleep(0.01)
    sock.close()
    return received / seconds, 100.0 * (sent - received) / max(1, sent)


def main() -> int:
    """Run every comparison and print figures and ratios; the exit code."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3, help="rounds per HTTP row (median)")
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--udp-rate", type=int, default=20000, help="offered UDP load, packets/s")
    ap.add_argument(
        "--only",
        action="append",
        choices=MEASURES,
        help="run only this comparison (repeatable); default: all",
    )
    ap.add_argument("--no-netns", action="store_true", help="one source address only")
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.in_netns and not args.no_netns and netns.available():
        with netns.namespace(http_rows.SOURCES) as inside:
            argv = [*inside, sys.executable, "-m", "bench.server", *sys.argv[1:], "--in-netns"]
            return subprocess.run(argv, check=False).returncode
    only = set(args.only or MEASURES)
    rows: list[Row] = []
    host = "0.0.0.0" if args.in_netns else HOST  # inside the bench's namespace only
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(
            Path(tmp),
            host=host,
            services=("http", "udp_echo"),
            config_yaml="udp_echo:\n  rate_limit_pps: 1000000\n  rate_burst: 100000\n",
            ready_timeout=60,
        )
        try:
            if only & {"download", "empty"}:
                rows += http_comparisons(srv.http_port, args, only, many=args.in_netns)
            if "udp" in only:
                rows.append(udp_row(srv.udp_echo_port, args.seconds, args.udp_rate))
        finally:
            srv.stop()
    print(f"{'measure':<62} {'ours':>10} {'reference':>10} {'ratio':>6}  rounds (ours / ref)")
    for row in rows:
        rounds = " ".join(f"{v:.0f}" for v in row.rounds_ours)
        rounds += " / " + " ".join(f"{v:.0f}" for v in row.rounds_ref)
        ratio = row.ours / row.ref
        print(f"{row.name:<62} {row.ours:>10.1f} {row.ref:>10.1f} {ratio:>6.2f}  {rounds}")
    if not args.in_netns:
        print("(one source address only: run as root for the many-sources rows)")
    return 0


def http_comparisons(port: int, args: argparse.Namespace, only: set[str], many: bool) -> list[Row]:
    """The wrk rows against nginx + php-fpm, nginx alone and a bare gevent app."""
    seconds, rounds = int(args.seconds), args.rounds
    rows: list[Row] = []
    workers = len(os.sched_getaffinity(0))
    host = "0.0.0.0" if many else HOST  # inside the bench's namespace only
    with nginx_reference(workers, php=True, host=host) as ref_port:
        if "download" in only:
            ours = http_rows.urls(port, "/backend/garbage.php?ckSize=64", False)[0]
            theirs = http_rows.urls(ref_port, "/backend/garbage.php?ckSize=64", False)[0]
            rows.append(http_rows.compare(
                "download Mbit/s, garbage.php (wrk -c4) vs PHP under nginx+php-fpm", "Mbit/s",
                lambda: http_rows.download_mbps(ours, seconds),
                lambda: http_rows.download_mbps(theirs, seconds), rounds))  # fmt: skip
            mbps = garbage_mbps(port, args.streams, args.seconds)
            ref = iperf3_mbps(args.streams, args.seconds)
            rows.append(Row("download Mbit/s (garbage.php, Python streams) vs iperf3 -R",
                            mbps, ref, "Mbit/s", (mbps,), (ref,)))  # fmt: skip
        if "empty" in only:
            rows += _empty_rows(port, ref_port, seconds, rounds, many)
    return rows


def _empty_rows(port: int, ref_port: int, seconds: int, rounds: int, many: bool) -> list[Row]:
    path = "/backend/empty.php?r=0.5"
    rate = http_rows.request_rate
    rows: list[Row] = []
    for label, spread in [("1 source", False), (f"{len(http_rows.SOURCES)} sources", True)]:
        if spread and not many:
            continue
        ours, php = http_rows.urls(port, path, spread), http_rows.urls(ref_port, path, spread)
        rows.append(http_rows.compare(
            f"empty.php req/s, {label}, vs nginx+php-fpm", "req/s",
            partial(rate, ours, seconds), partial(rate, php, seconds), rounds))  # fmt: skip
    ours = http_rows.urls(port, path, many)
    bare_nginx = http_rows.urls(ref_port, "/empty", many)
    rows.append(http_rows.compare(
        "empty.php req/s vs nginx's own empty 200 (upper bound)", "req/s",
        lambda: rate(ours, seconds), lambda: rate(bare_nginx, seconds), rounds))  # fmt: skip
    bare_port = free_port(HOST)
    bare = _spawn(BARE_WSGI, bare_port)
    try:
        one = http_rows.urls(port, path, False)
        floor = [f"http://{HOST}:{bare_port}/"]
        rows.append(http_rows.compare(
            "empty.php req/s, 1 source, vs a bare gevent WSGI app", "req/s",
            lambda: rate(one, seconds), lambda: rate(floor, seconds), rounds))  # fmt: skip
    finally:
        bare.kill()
        bare.wait()
    return rows


def udp_row(port: int, seconds: float, rate: int) -> Row:
    """UDP echo replies/s and loss against a bare blocking-socket echo loop."""
    pps, loss = udp_echo_pps(port, seconds, rate)
    bare_port = free_port(HOST)
    bare = _spawn(BARE_UDP, bare_port)
    time.sleep(0.3)
    try:
        ref_pps, ref_loss = udp_echo_pps(bare_port, seconds, rate)
    finally:
        bare.kill()
        bare.wait()
    name = f"UDP echo replies/s (loss {loss:.2f}% vs {ref_loss:.2f}%)"
    return Row(name, pps, ref_pps, "pkt/s", (pps,), (ref_pps,))


if __name__ == "__main__":
    sys.exit(main())
