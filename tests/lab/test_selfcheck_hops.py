"""Self-check: traceroute and mtr count routers + 1 hops, with the right addresses, also through
the delayer (which proves it gives back the TTL / hop limit its extra kernel pass takes)."""

from __future__ import annotations

import pytest

from tests.lab.netlab.refstats import traceroute_hops

pytestmark = pytest.mark.lab


def traceroute(lab, v6: bool) -> list[str]:
    target = lab.server_ip6 if v6 else lab.server_ip
    argv = ["traceroute", "-n", "-q", "1", "-w", "2", "-m", "10", target]
    if v6:
        argv.insert(1, "-6")
    return traceroute_hops(lab.client.ns.run(argv, timeout=60).stdout)


@pytest.mark.parametrize("lab", [1, 3], indirect=True)
@pytest.mark.parametrize("delayer", [False, True], ids=["kernel", "delayer"])
@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_traceroute_counts_routers_plus_one(lab, delayer, v6):
    if delayer:
        for link in range(lab.links):
            lab.set_link(link, "both", delay_ms=1)
        assert len(lab.delayers) == lab.routers_count
    hops = traceroute(lab, v6)
    assert hops == lab.hops(v6)
    assert len(hops) == lab.routers_count + 1


@pytest.mark.parametrize("lab", [3], indirect=True)
def test_mtr_report_counts_hops_and_ttl_reaches_server_unchanged(lab):
    for link in range(lab.links):
        lab.set_link(link, "both", delay_ms=2)
    out = lab.client.ns.run(
        ["mtr", "--report", "--no-dns", "-c", "3", "-i", "0.2", lab.server_ip], timeout=60
    ).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [row[1] for row in rows] == lab.hops()
    # ping's reply TTL: the server sends 64, three routers take one each on the way back.
    ping = lab.client.ns.run(["ping", "-n", "-c", "1", lab.server_ip]).stdout
    assert "ttl=61" in ping


@pytest.mark.parametrize("lab", [2], indirect=True)
@pytest.mark.parametrize("delayer", [False, True], ids=["kernel", "delayer"])
def test_path_mtu_is_the_narrow_link(lab, delayer):
    lab.set_mtu(1, 1400)
    if delayer:
        lab.set_link(1, "both", delay_ms=1)
    ping = ["ping", "-n", "-c", "1", "-W", "2", "-M", "do", lab.server_ip]
    fits = lab.client.ns.run([*ping[:-1], "-s", str(1400 - 28), lab.server_ip], check=False)
    too_big = lab.client.ns.run([*ping[:-1], "-s", str(1401 - 28), lab.server_ip], check=False)
    assert fits.returncode == 0, fits.stdout
    assert too_big.returncode != 0
    assert "mtu = 1400" in (too_big.stdout + too_big.stderr).lower().replace("mtu=", "mtu = ")
