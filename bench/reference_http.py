"""Reference HTTP servers for ``bench/server.py``, from Debian packages alone: nginx answering
an empty 200 (the upper bound of any backend behind it), and nginx + php-fpm running a PHP
backend equivalent to LibreSpeed's ``empty.php`` and ``garbage.php`` (written here, not copied).

Each runs as a foreground process (``daemon off``, ``php-fpm -F``) with a configuration
generated in a temporary directory, on a free loopback port, and is stopped (SIGTERM, then
SIGKILL) when its context ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.net import free_port

HOST = "127.0.0.1"
READY_TIMEOUT_S = 15.0

# The PHP backend: what LibreSpeed's empty.php and garbage.php do, in our own words.
EMPTY_PHP = """<?php
header('HTTP/1.1 200 OK');
if (isset($_GET['cors'])) {
    header('Access-Control-Allow-Origin: *');
    header('Access-Control-Allow-Methods: GET, POST, OPTIONS');
    header('Access-Control-Allow-Headers: Content-Encoding, Content-Type');
}
header('Cache-Control: no-store, no-cache, must-revalidate, max-age=0, s-maxage=0');
header('Cache-Control: post-check=0, pre-check=0', false);
header('Pragma: no-cache');
header('Connection: keep-alive');
"""

GARBAGE_PHP = """<?php
@ini_set('zlib.output_compression', 'Off');
@ini_set('output_buffering', 'Off');
@ini_set('output_handler', '');
header('HTTP/1.1 200 OK');
header('Content-Description: File Transfer');
header('Content-Type: application/octet-stream');
header('Content-Disposition: attachment; filename=random.dat');
header('Content-Transfer-Encoding: binary');
header('Cache-Control: no-store, no-cache, must-revalidate, max-age=0, s-maxage=0');
header('Cache-Control: post-check=0, pre-check=0', false);
header('Pragma: no-cache');
$chunks = 4;
if (isset($_GET['ckSize']) && ctype_digit($_GET['ckSize'])) {
    $chunks = max(1, min(1024, intval($_GET['ckSize'])));
}
$data = random_bytes(1048576);
for ($i = 0; $i < $chunks; $i++) {
    echo $data;
    flush();
}
"""


def php_fpm_binary() -> str | None:
    """Debian's php-fpm (``php-fpm8.2`` on bookworm), or None when it is not installed."""
    for name in ("php-fpm", *(f"php-fpm8.{minor}" for minor in range(9, -1, -1))):
        for folder in ("/usr/sbin", "/usr/bin"):
            if os.access(f"{folder}/{name}", os.X_OK):
                return f"{folder}/{name}"
    return shutil.which("php-fpm")


def nginx_binary() -> str | None:
    """Debian's nginx, or None when it is not installed."""
    for path in ("/usr/sbin/nginx", shutil.which("nginx")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def _nginx_conf(tmp: Path, host: str, port: int, workers: int, fpm_socket: Path | None) -> str:
    # As root, nginx's workers (and php-fpm's) drop to nobody; as another user both stay so.
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    php = ""
    if fpm_socket is not None:
        php = f"""
        location ~ ^/backend/[a-z]+\\.php$ {{
            root {tmp / "www"};
            rewrite ^/backend/(.*)$ /$1 break;
            fastcgi_pass unix:{fpm_socket};
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_buffering off;
        }}"""
    temp = "".join(
        f"    {kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes {workers};
daemon off;
pid {tmp / "nginx.pid"};
error_log {tmp / "nginx-error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}    keepalive_requests 1000000;
    server {{
        listen {host}:{port} reuseport backlog=1024;
        location = /empty {{ return 200 ""; }}{php}
    }}
}}
"""


def _fpm_conf(tmp: Path, fpm_socket: Path) -> str:
    # Debian's default pool (pm dynamic, 5 children at most), on a socket in the temp dir.
    user = "user = nobody\ngroup = nogroup\n" if os.geteuid() == 0 else ""
    return f"""[global]
pid = {tmp / "php-fpm.pid"}
error_log = {tmp / "php-fpm.log"}
daemonize = no
[bench]
{user}listen = {fpm_socket}
listen.mode = 0666
pm = dynamic
pm.max_children = 5
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
"""


def _wait_port(port: int, procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        try:
            socket.create_connection((HOST, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
    raise RuntimeError(f"the reference server did not start on port {port}: {tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def nginx_reference(workers: int, php: bool = False, host: str = HOST) -> Iterator[int]:
    """nginx on a free port of ``host`` (``workers`` worker processes) answering ``/empty``
    with an empty 200; with ``php``, also ``/backend/empty.php`` and ``/backend/garbage.php``
    through php-fpm. Yields the port. RuntimeError when a binary is missing or fails."""
    nginx = nginx_binary()
    fpm = php_fpm_binary() if php else None
    if nginx is None or (php and fpm is None):
        raise RuntimeError("nginx (and php-fpm for the PHP rows) not installed: make system-deps")
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # the workers (nobody, as root) read the scripts and the socket
        port = free_port(HOST)
        procs: list[subprocess.Popen[bytes]] = []
        fpm_socket = tmp / "php-fpm.sock" if php else None
        try:
            if fpm is not None and fpm_socket is not None:
                www = tmp / "www"
                www.mkdir(mode=0o755)
                (www / "empty.php").write_text(EMPTY_PHP)
                (www / "garbage.php").write_text(GARBAGE_PHP)
                (tmp / "php-fpm.conf").write_text(_fpm_conf(tmp, fpm_socket))
                argv = [fpm, "-F", "-y", str(tmp / "php-fpm.conf")]
                if os.geteuid() == 0:
                    argv.append("-R")
                procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
            (tmp / "nginx.conf").write_text(_nginx_conf(tmp, host, port, workers, fpm_socket))
            argv = [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf")]
            procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
            _wait_port(port, procs, tmp / "nginx-error.log")
            yield port
        finally:
            for proc in reversed(procs):
                _stop(proc)
