"""Services inside the lab's server namespace: WaddlePerf server, dnsmasq, sshd, plain fallbacks.

Every process is started through the namespace, so the lab's teardown kills it. Ports may be the
tools' usual ones: a fresh namespace has nothing else listening, so they cannot collide.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.lab.netlab.topology import Lab
from tests.support.net import wait_until
from waddleperf.localstack import LocalServer, child_env, server_argv

ROOT = Path(__file__).resolve().parents[3]
WADDLEPERF = str(Path(sys.executable).parent / "waddleperf")
SSHD = "/usr/sbin/sshd"


class ServiceStartError(RuntimeError):
    """A lab service did not come up; the message carries its log."""


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def tcp_open(lab: Lab, host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection from the client namespace to host:port succeeds."""

    def attempt() -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            return False

    return lab.client.ns.call(attempt)


def http_get(lab: Lab, url: str, timeout: float = 5.0) -> bytes:
    """GET ``url`` from inside the client namespace; return the body."""

    def fetch() -> bytes:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body: bytes = resp.read()
            return body

    return lab.client.ns.call(fetch)


@dataclass(kw_only=True)
class LabServer(LocalServer):
    """``waddleperf server`` running in the server namespace; reached from the client's."""

    lab: Lab

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the HTTP service (the server's address for a wildcard bind)."""
        host = self.lab.server_ip if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{_url_host(host)}:{self.http_port}"

    def health(self, timeout: float = 5.0) -> dict[str, Any]:
        """GET /health from the client namespace."""
        body = http_get(self.lab, self.base_url + "/health", timeout=timeout)
        data: dict[str, Any] = json.loads(body)
        return data


def start_waddleperf_server(
    lab: Lab,
    bind: str | None = None,
    http_port: int = 8080,
    tcp_echo_port: int = 2001,
    udp_echo_port: int = 2000,
    iperf_port: int = 5201,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    wait: float = 20.0,
) -> LabServer:
    """Start ``waddleperf server --bind ADDR …`` in the server namespace; wait until it is ready
    (``LocalServer.wait_ready``: every service bound, /health answering in the client's)."""
    host = bind or lab.server_ip
    ports = {
        "http": http_port,
        "tcp_echo": tcp_echo_port,
        "udp_echo": udp_echo_port,
        "iperf": iperf_port,
    }
    log_path = lab.workdir / f"waddleperf-server-{http_port}.log"
    with log_path.open("wb") as log:
        proc = lab.server.ns.popen(
            server_argv(host, ports, args), stdout=log, stderr=log, env=child_env(env), cwd=ROOT
        )
    srv = LabServer(proc, log_path, host, ports, lab=lab)
    try:
        srv.wait_ready(wait)
    except RuntimeError as exc:
        raise ServiceStartError(f"waddleperf server did not start: {exc}") from None
    return srv


@dataclass
class DnsServer:
    """dnsmasq answering only for the lab's names (no upstream, no /etc/hosts)."""

    host: str
    host6: str | None
    port: int
    domain: str
    records: dict[str, list[str]]
    log_path: Path

    def log(self) -> str:
        """dnsmasq's log (queries are logged)."""
        return self.log_path.read_text(errors="replace")


def default_records(lab: Lab, domain: str = "lab.test") -> dict[str, list[str]]:
    """A/AAAA records for every node: server.lab.test, client.lab.test, r1.lab.test, …"""
    recs: dict[str, list[str]] = {
        f"server.{domain}": [lab.server_ip, lab.server_ip6],
        f"client.{domain}": [lab.client_ip, lab.client_ip6],
    }
    for k in range(1, lab.routers_count + 1):
        recs[f"r{k}.{domain}"] = [lab.router_ip(k), lab.router_ip(k, v6=True)]
    recs[f"v4only.{domain}"] = [lab.server_ip]
    return recs


def start_dnsmasq(
    lab: Lab,
    records: Mapping[str, Sequence[str]] | None = None,
    domain: str = "lab.test",
    port: int = 53,
    wait: float = 10.0,
) -> DnsServer:
    """Start dnsmasq in the server namespace on the server's addresses; names outside the records
    but inside ``domain`` answer NXDOMAIN, everything else is REFUSED (there is no upstream)."""
    recs = {k: list(v) for k, v in (records or default_records(lab, domain)).items()}
    log_path = lab.workdir / f"dnsmasq-{port}.log"
    argv = [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--bind-interfaces", f"--listen-address={lab.server_ip}", f"--port={port}",
        "--log-facility=-", "--log-queries", "--pid-file=", f"--local=/{domain}/",
    ]  # fmt: skip
    if lab.ipv6:
        argv.append(f"--listen-address={lab.server_ip6}")
    for name, addrs in recs.items():
        argv.append(f"--host-record={','.join([name, *addrs])}")
    with log_path.open("wb") as err:
        proc = lab.server.ns.popen(argv, stdout=err, stderr=subprocess.STDOUT)
    dns = DnsServer(
        lab.server_ip, lab.server_ip6 if lab.ipv6 else None, port, domain, recs, log_path
    )
    first = next(iter(recs))

    def answers() -> bool:
        out = lab.client.ns.run(
            ["dig", f"@{lab.server_ip}", "-p", str(port), first, "A", "+short", "+time=1",
             "+tries=1"],
            check=False,
        )  # fmt: skip
        return proc.poll() is not None or bool(out.stdout.strip())

    if not wait_until(answers, wait, 0.1) or proc.poll() is not None:
        raise ServiceStartError(f"dnsmasq did not start: {dns.log()[-3000:]}")
    return dns


@dataclass
class SshServer:
    """sshd on the server's addresses, accepting only the generated key for root."""

    host: str
    host6: str | None
    port: int
    user: str
    key_path: Path
    public_key: str
    host_public_key: str
    known_hosts: Path
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def ssh_argv(self, *command: str) -> list[str]:
        """An ``ssh`` command line (to run in the client namespace) that logs in with the key."""
        return [
            "ssh", "-i", str(self.key_path), "-p", str(self.port),
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            f"{self.user}@{self.host}", *command,
        ]  # fmt: skip

    def log(self) -> str:
        """sshd's log (-e: to stderr)."""
        return self.log_path.read_text(errors="replace")


def start_sshd(lab: Lab, port: int = 2222, wait: float = 10.0) -> SshServer:
    """Start sshd (generated host key and user key in the lab's temp dir) in the server ns."""
    d = lab.workdir / f"ssh-{port}"
    d.mkdir(mode=0o700)
    host_key, user_key = d / "host_ed25519", d / "id_ed25519"
    for key in (host_key, user_key):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wpl-lab", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    public_key = user_key.with_suffix(".pub").read_text().strip()
    (d / "authorized_keys").write_text(public_key + "\n")
    host_pub = host_key.with_suffix(".pub").read_text().strip()
    hosts = [lab.server_ip] + ([lab.server_ip6] if lab.ipv6 else [])
    (d / "known_hosts").write_text(
        "".join(f"[{h}]:{port} {' '.join(host_pub.split()[:2])}\n" for h in hosts)
    )
    config = d / "sshd_config"
    lines = [f"Port {port}", *(f"ListenAddress {h}" for h in hosts)]
    lines += [
        f"HostKey {host_key}", "PidFile none", f"AuthorizedKeysFile {d / 'authorized_keys'}",
        "PermitRootLogin prohibit-password", "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        # The keys live in a temp dir whose owner/mode checks would refuse them for no gain here.
        "StrictModes no", "AllowUsers root", "LogLevel VERBOSE",
    ]  # fmt: skip
    config.write_text("\n".join(lines) + "\n")
    # sshd insists on its privilege-separation directory even in the foreground.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log_path = d / "sshd.log"
    with log_path.open("wb") as err:
        proc = lab.server.ns.popen([SSHD, "-D", "-e", "-f", str(config)], stderr=err)
    srv = SshServer(
        lab.server_ip, lab.server_ip6 if lab.ipv6 else None, port, "root", user_key,
        public_key, host_pub, d / "known_hosts", log_path,
    )  # fmt: skip
    if not wait_until(lambda: proc.poll() is not None or tcp_open(lab, lab.server_ip, port), wait):
        raise ServiceStartError(f"sshd did not start: {srv.log()[-3000:]}")
    if proc.poll() is not None:
        raise ServiceStartError(f"sshd exited {proc.returncode}: {srv.log()[-3000:]}")
    return srv


@dataclass
class PlainService:
    """A reference server (iperf3 -s, python -m http.server) for tests that need no WaddlePerf."""

    host: str
    port: int
    proc: subprocess.Popen[bytes]


def start_iperf3_server(lab: Lab, port: int = 5201, wait: float = 10.0) -> PlainService:
    """``iperf3 -s`` bound to the server's IPv4 address (serves one test after another)."""
    proc = lab.server.ns.popen(["iperf3", "-s", "-B", lab.server_ip, "-p", str(port)])
    if not wait_until(lambda: tcp_open(lab, lab.server_ip, port), wait):
        raise ServiceStartError("iperf3 -s did not start")
    return PlainService(lab.server_ip, port, proc)


def start_http_server(
    lab: Lab, directory: Path, port: int = 8000, wait: float = 10.0
) -> PlainService:
    """``python -m http.server`` serving ``directory`` on the server's IPv4 address."""
    argv = [sys.executable, "-m", "http.server", "--bind", lab.server_ip, "--directory",
            str(directory), str(port)]  # fmt: skip
    proc = lab.server.ns.popen(argv)
    if not wait_until(lambda: tcp_open(lab, lab.server_ip, port), wait):
        raise ServiceStartError("http.server did not start")
    return PlainService(lab.server_ip, port, proc)
