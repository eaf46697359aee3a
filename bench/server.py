"""Server benchmark: ours against the reference on the same machine, in one run, on loopback.

- download through ``garbage.php`` with parallel streams vs ``iperf3 -P`` TCP throughput
  (the practical limit of this machine);
- ``empty.php`` requests per second (wrk) vs a bare gevent WSGI app answering an empty 200
  (the floor of our stack);
- UDP echo packets per second and loss vs a bare blocking-socket echo loop.

Run with ``make bench`` (or ``.venv/bin/python -m bench.server``). Not a test: it prints figures
and ratios, which go into docs/performance.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def wrk_rps(url: str, seconds: int, connections: int = 32) -> float:
    """Requests per second that wrk reaches against ``url``."""
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not match:
        raise RuntimeError(f"wrk printed no rate: {out.stdout}")
    return float(match.group(1))


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


def main() -> None:
    """Run every comparison and print figures and ratios."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--udp-rate", type=int, default=20000, help="offered UDP load, packets/s")
    ap.add_argument(
        "--only",
        action="append",
        choices=MEASURES,
        help="run only this comparison (repeatable); default: all",
    )
    args = ap.parse_args()
    only = set(args.only or MEASURES)
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(
            Path(tmp),
            services=("http", "udp_echo"),
            config_yaml="udp_echo:\n  rate_limit_pps: 1000000\n  rate_burst: 100000\n",
        )
        try:
            if "download" in only:
                ours = garbage_mbps(srv.http_port, args.streams, args.seconds)
                ref = iperf3_mbps(args.streams, args.seconds)
                rows.append(("download Mbit/s (garbage.php vs iperf3)", ours, ref, "Mbit/s"))
            if "empty" in only:
                rows.append(empty_php_row(srv.http_port, int(args.seconds)))
            if "udp" in only:
                rows.append(udp_row(srv.udp_echo_port, args.seconds, args.udp_rate))
        finally:
            srv.stop()
    print(f"{'measure':<48} {'ours':>12} {'reference':>12} {'ratio':>7}")
    for name, ours_v, ref_v, _unit in rows:
        print(f"{name:<48} {ours_v:>12.1f} {ref_v:>12.1f} {ours_v / ref_v:>7.2f}")


def empty_php_row(port: int, seconds: int) -> tuple[str, float, float, str]:
    """empty.php requests/s through our server against a bare gevent WSGI app (its floor)."""
    ours = wrk_rps(f"http://{HOST}:{port}/backend/empty.php?r=0.5", seconds)
    bare_port = free_port(HOST)
    bare = _spawn(BARE_WSGI, bare_port)
    try:
        ref = wrk_rps(f"http://{HOST}:{bare_port}/", seconds)
    finally:
        bare.kill()
        bare.wait()
    return ("empty.php req/s (vs bare gevent WSGI)", ours, ref, "req/s")


def udp_row(port: int, seconds: float, rate: int) -> tuple[str, float, float, str]:
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
    return (f"UDP echo replies/s (loss {loss:.2f}% vs {ref_loss:.2f}%)", pps, ref_pps, "pkt/s")


if __name__ == "__main__":
    main()
