"""plan.check: every tier's probes against the registry and each probe's options model."""

from __future__ import annotations

from pathlib import Path

import pytest

from waddleperf.autoperf import config, plan


def errors(tmp_path: Path, yaml: str) -> list[str]:
    user = tmp_path / "user.yml"
    user.write_text(yaml)
    return plan.check(config.load(user_file=user, environ={}))


def test_shipped_defaults_and_demo_pass(tmp_path: Path) -> None:
    assert plan.check(config.load(environ={})) == []
    demo = tmp_path / "demo.yml"
    demo.write_text((config.VARS_DIR / "demo.yml").read_text(encoding="utf-8"))
    assert plan.check(config.load(user_file=demo, environ={})) == []


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("tiers: {tier1: {probes: [{probe: icmpp}]}}",
         "tiers.tier1.probes[0].probe: unknown probe 'icmpp' (known: dns, http, icmp, "),
        ("tiers: {tier2: {probes: [trace, icmpp]}}",
         "tiers.tier2.probes[1].probe: unknown probe 'icmpp'"),
        ("tiers: {tier1: {probes: [{probe: icmp, options: {cnt: 5}}]}}",
         "tiers.tier1.probes[0].options.cnt: unknown option cnt = 5 (icmp takes: count, "),
        ("tiers: {tier3: {probes: [{probe: rpm, options: {paralel: 2}}]}}",
         "tiers.tier3.probes[0].options.paralel: unknown option paralel = 2 (rpm takes: "),
        ("tiers: {tier1: {probes: [{probe: icmp, options: {count: 0}}]}}",
         "tiers.tier1.probes[0].options.count: invalid value 0: Input should be greater than"),
        ("tiers: {tier1: {probes: [{probe: tcp, options: {count: many}}]}}",
         "tiers.tier1.probes[0].options.count: invalid value 'many': Input should be a valid"),
        ("tiers: {tier3: {probes: [{probe: iperf, options: {reverse: true, bidir: true}}]}}",
         "tiers.tier3.probes[0].options: {'reverse': True, 'bidir': True}: reverse and bidir"),
    ],
)  # fmt: skip
def test_each_error_names_the_key_and_the_value(tmp_path: Path, yaml: str, expected: str) -> None:
    (found,) = errors(tmp_path, yaml)
    assert found.startswith(expected), found


def test_every_fault_is_reported_once_per_entry(tmp_path: Path) -> None:
    yaml = (
        "servers: [{name: a, host: 10.0.0.1}, {name: b, host: 10.0.0.2}]\n"
        "tiers: {tier1: {probes: [icmpp, {probe: udp, options: {cnt: 1, count: -1}}]}}\n"
    )
    found = errors(tmp_path, yaml)
    assert [f.split(":")[0] for f in found] == [
        "tiers.tier1.probes[0].probe",
        "tiers.tier1.probes[1].options.count",
        "tiers.tier1.probes[1].options.cnt",
    ]


def test_only_faults_of_the_tier_entry_count(tmp_path: Path) -> None:
    # The server's HMAC-key variable is unset: a fault of the aim, seen when the probe runs.
    yaml = (
        "servers: [{name: a, host: 10.0.0.1, udp_key_env: WP_TEST_UNSET_KEY}]\n"
        "tiers: {tier1: {probes: [{probe: udp, options: {count: 3}}]}}\n"
    )
    assert errors(tmp_path, yaml) == []
    # ssh's command needs auth, which the server's ssh section gives: no false alarm
    key = tmp_path / "id"
    key.write_text("k")
    ssh = f"servers: [{{name: a, host: 10.0.0.1, ssh: {{user: u, key_file: {key}}}}}]\n"
    assert errors(tmp_path, ssh + "tiers: {tier2: {probes: [{probe: ssh, "
                                  "options: {command: 'true'}}]}}\n") == []  # fmt: skip


def test_a_skipped_step_is_still_checked(tmp_path: Path) -> None:
    # no ssh section: the step is skipped when planned, but a typo in it is still a typo
    (found,) = errors(tmp_path, "tiers: {tier2: {probes: [{probe: ssh, options: {usr: x}}]}}")
    assert found.startswith("tiers.tier2.probes[0].options.usr: unknown option usr = 'x'")
