"""The service fixtures answer from the client namespace: WaddlePerf server, dnsmasq, sshd."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab


def test_dns_server_answers_lab_names_only(lab, dns_server, in_client):
    def dig(name: str, rtype: str, server: str):
        argv = ["dig", f"@{server}", "-p", str(dns_server.port), name, rtype, "+time=2", "+tries=1"]
        return in_client(argv).stdout

    a = in_client(["dig", f"@{dns_server.host}", "server.lab.test", "A", "+short"]).stdout
    assert a.split() == [lab.server_ip]
    aaaa = in_client(["dig", f"@{dns_server.host6}", "server.lab.test", "AAAA", "+short"]).stdout
    assert aaaa.split() == [lab.server_ip6]
    assert "status: NXDOMAIN" in dig("nope.lab.test", "A", dns_server.host)
    assert "status: REFUSED" in dig("example.com", "A", dns_server.host)


def test_ssh_server_accepts_the_generated_key(lab, ssh_server, in_client):
    out = in_client(ssh_server.ssh_argv("cat", "/proc/sys/net/ipv4/ip_forward"), timeout=30)
    assert out.stdout.strip() == "0"  # the server namespace does not forward
    who = in_client(ssh_server.ssh_argv("ip", "-brief", "addr", "show", "eth-c"), timeout=30)
    assert lab.server_ip in who.stdout


def test_lab_server_health_from_the_client(lab, lab_server):
    health = lab_server.health()
    for name in ("http", "tcp_echo", "udp_echo", "iperf"):
        assert health["services"][name]["state"] == "running", (health, lab_server.log())
    # The supervised iperf3 is reachable through the router.
    out = lab.client.ns.run(
        ["iperf3", "-c", lab_server.host, "-p", str(lab_server.iperf_port), "-t", "1", "-J"],
        timeout=30,
    )
    assert '"sum_received"' in out.stdout


@pytest.mark.parametrize("lab", [2], indirect=True)
def test_client_code_runs_in_the_client_namespace(lab, client_call):
    import socket

    def my_addresses() -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((lab.server_ip, 9))
            return str(sock.getsockname()[0])

    assert client_call(my_addresses) == lab.client_ip
    proc = lab.client.ns.python("import sys, waddleperf; print(sys.argv[1])", "hello")
    assert proc.stdout.strip() == "hello"


def test_lab_server_factory_serves_ipv6(lab, lab_server_factory):
    srv = lab_server_factory(bind=lab.server_ip6, http_port=8081, tcp_echo_port=2101,
                             udp_echo_port=2100, iperf_port=5301)  # fmt: skip
    assert srv.base_url == f"http://[{lab.server_ip6}]:8081"
    assert srv.health()["services"]["http"]["state"] == "running"
