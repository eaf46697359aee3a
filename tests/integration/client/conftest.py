"""Real services on loopback for the probe integration tests: sshd, dnsmasq, HTTPS, DNS stubs.

Every process is a child of the test, on a free port, torn down in the fixture's finalizer.
"""

from __future__ import annotations

import datetime as dt
import http.server
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port, udp_stub, wait_until
from tests.support.require import require_root, require_tool
from tests.support.server import LocalServer, start_server
from waddleperf_common.procs import stop

SSHD = "/usr/sbin/sshd"
WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")


@dataclass
class Netns:
    """A throw-away network namespace (loopback up) and a way to run the CLI inside it."""

    name: str

    def run(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv],
            input=stdin, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    def probe(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(WADDLEPERF, "probe", *args)


@pytest.fixture
def raw_sockets() -> None:
    """Use it (``pytest.mark.usefixtures("raw_sockets")``) in tests that open raw sockets: they
    need root, and skip without it (fail under CI=true)."""
    require_root("raw sockets")


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A namespace of our own: nothing the probes do in it can reach another host."""
    require_root("network namespaces")
    require_tool("ip", "iproute2")
    name = f"wpprobe{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield Netns(name)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One real server per test module (probes only read from it), stopped at the end."""
    srv = start_server(tmp_path_factory.mktemp("server"))
    try:
        yield srv
    finally:
        srv.stop()


@dataclass
class Sshd:
    port: int
    user: str
    user_key: Path
    other_key: Path
    known_hosts: Path
    empty_known_hosts: Path


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """An OpenSSH server on 127.0.0.1 accepting one user key for root (this test's user)."""
    require_tool(SSHD, "openssh-server")
    require_root("sshd logs in as root")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    host_key, user_key, other_key = tmp_path / "host", tmp_path / "user", tmp_path / "other"
    for key in (host_key, user_key, other_key):
        _keygen(key)
    auth = tmp_path / "authorized_keys"
    auth.write_text((tmp_path / "user.pub").read_text())
    port = free_port()
    cfg = tmp_path / "sshd_config"
    cfg.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"Port {port}",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {auth}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "StrictModes no",
                "UsePAM no",
                f"PidFile {tmp_path / 'sshd.pid'}",
                "",
            ]
        )
    )
    known = tmp_path / "known_hosts"
    host_pub = (tmp_path / "host.pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    log = (tmp_path / "sshd.log").open("wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stderr=log, stdout=log)
    try:
        if not wait_until(lambda: proc.poll() is None and _port_open(port), 10):
            pytest.fail(f"sshd did not start: {(tmp_path / 'sshd.log').read_text()}")
        yield Sshd(port, "root", user_key, other_key, known, empty)
    finally:
        stop(proc, 5)
        log.close()


@pytest.fixture
def dnsmasq(tmp_path: Path) -> Iterator[int]:
    """dnsmasq on 127.0.0.1:<free port>: *.lab.test → 127.0.0.1, *.nx.test → NXDOMAIN."""
    binary = require_tool("dnsmasq", "dnsmasq-base")
    port = free_port()
    cmd = [
        binary, "--no-daemon", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1",
        "--bind-interfaces", f"--port={port}", "--address=/lab.test/127.0.0.1",
        "--address=/nx.test/", "--pid-file=", "--user=root", "--log-facility=-",
    ]  # fmt: skip
    log = (tmp_path / "dnsmasq.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        if not wait_until(lambda: proc.poll() is None and _port_open(port), 10):
            pytest.fail(f"dnsmasq did not start: {(tmp_path / 'dnsmasq.log').read_text()}")
        yield port
    finally:
        stop(proc, 5)
        log.close()


def _servfail(sock: socket.socket, data: bytes, addr: Any) -> None:
    import dns.message
    import dns.rcode

    reply = dns.message.make_response(dns.message.from_wire(data))
    reply.set_rcode(dns.rcode.SERVFAIL)
    sock.sendto(reply.to_wire(), addr)


@pytest.fixture
def servfail_dns() -> Iterator[int]:
    """Port of a DNS server on 127.0.0.1 that answers SERVFAIL."""
    yield from udp_stub(_servfail)


@pytest.fixture
def silent_dns() -> Iterator[int]:
    """Port of a UDP socket on 127.0.0.1 that never answers."""
    yield from udp_stub(lambda sock, data, addr: None)


@dataclass
class HttpsServer:
    port: int
    ca_file: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/slow")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/slow"):
            time.sleep(0.1)
        body = b"waddle" * 1000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[HttpsServer]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (valid 30 days)."""
    cert, key = _self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpsServer(srv.server_address[1], cert)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
