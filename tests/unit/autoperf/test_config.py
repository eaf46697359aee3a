"""AutoPerf configuration: embedded defaults, layers, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from waddleperf.autoperf import config
from waddleperf.load.plan import LoadOptions
from waddleperf_common.config import ConfigError

DEMO = Path(__file__).resolve().parents[3] / "client" / "waddleperf" / "vars" / "demo.yml"


def load(tmp_path: Path, yaml: str | None = None, **env: str) -> config.AutoPerfConfig:
    user = None
    if yaml is not None:
        user = tmp_path / "user.yml"
        user.write_text(yaml)
    return config.load(user_file=user, environ=env)


def error(tmp_path: Path, yaml: str | None = None, **env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, yaml, **env)
    return str(info.value)


def test_embedded_defaults_run_against_loopback(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    (srv,) = cfg.servers
    assert (srv.host, srv.ports.http, srv.ports.tcp_echo, srv.ports.udp_echo, srv.ports.iperf) == (
        "127.0.0.1", 8080, 2001, 2000, 5201
    )  # fmt: skip
    assert [p.probe for p in cfg.tiers.tier1.probes] == ["icmp", "tcp", "udp", "http", "dns"]
    assert cfg.tiers.interval_s == 60 and cfg.tiers.jitter_pct == 10
    assert cfg.hysteresis.breaches == 2 and cfg.hysteresis.critical_breaches == 1
    assert cfg.storage.store.kind == "local" and cfg.notify.webhook is None


def test_demo_config_is_valid(tmp_path: Path) -> None:
    cfg = config.load(user_file=DEMO, environ={})
    assert cfg.tiers.tier1.thresholds.rtt_ms is not None
    assert cfg.tiers.tier1.thresholds.rtt_ms < 0.01
    assert cfg.targets and cfg.targets[0].duration_s is not None


def test_user_file_env_and_flags_layer_in_order(tmp_path: Path) -> None:
    yaml = "tiers: {interval_s: 30}\nhysteresis: {cooldown_s: 10}\n"
    cfg = load(tmp_path, yaml, WADDLEPERF_HYSTERESIS_COOLDOWN_S="20")
    assert cfg.tiers.interval_s == 30 and cfg.hysteresis.cooldown_s == 20
    flags = config.load(environ={"WADDLEPERF_TIERS_INTERVAL_S": "5"},
                        overrides={"tiers.interval_s": 7})  # fmt: skip
    assert flags.tiers.interval_s == 7


def test_env_sets_nested_thresholds_and_lists(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        WADDLEPERF_TIERS_TIER1_THRESHOLDS_RTT_MS="50",
        WADDLEPERF_SERVERS="[{name: a, host: 10.0.0.5}]",
    )
    assert cfg.tiers.tier1.thresholds.rtt_ms == 50
    assert cfg.servers[0].host == "10.0.0.5" and cfg.servers[0].ports.http == 8080


def test_foreign_variables_are_not_errors_and_change_nothing(tmp_path: Path) -> None:
    cfg = load(tmp_path, WADDLEPERF_AGENT="a1", WADDLEPERF_UDP_KEY="k",
               WADDLEPERF_SERVER_HTTP_PORT="1", WADDLEPERF_APM="0")  # fmt: skip
    assert cfg == load(tmp_path)


def test_unknown_env_variable_is_named(tmp_path: Path) -> None:
    assert "WADDLEPERF_TIERS_INTERVAL" in error(tmp_path, WADDLEPERF_TIERS_INTERVAL="5")


@pytest.mark.parametrize(
    ("yaml", "named"),
    [
        ("tiers: {tier1: {thresholds: {rtt: 5}}}", "tiers.tier1.thresholds.rtt"),
        ("tiers: {interval_s: -1}", "tiers.interval_s"),
        ("tiers: {jitter_pct: 90}", "tiers.jitter_pct"),
        ("hysteresis: {breaches: 0}", "hysteresis.breaches"),
        ("servers: []", "servers"),
        ("servers: [{host: a, ports: {http: 70000}}]", "servers.0.ports.http"),
        ("targets: [{name: f, url: ftp://x}]", "targets.0.url"),
        ("targets: [{name: f, url: 'http://x', profile: giant}]", "targets.0.profile"),
        ("targets: [{name: f, url: 'http://x', duration_s: 3601}]", "targets.0.duration_s"),
        ("targets: [{name: f, url: 'http://x', user: robot}]", "targets.0.user"),
        ("targets: [{name: f, url: 'http://x', wait_s: '0.9,0.1'}]", "targets.0.wait_s"),
        ("targets: [{name: f, url: 'http://x', usres: 3}]", "targets.0.usres"),
        ("storage: {store: {kind: s3}}", "storage.store"),
        ("storage: {store: {kind: nfs}}", "storage.store.kind"),
        ("geoip: {public_ip: not-an-ip}", "geoip.public_ip"),
        ("notify: {webhook: {url: 'http://x', retries: 99}}", "notify.webhook.retries"),
        ("notify: {command: {argv: []}}", "notify.command.argv"),
        ("log_level: LOUD", "log_level"),
        ("tiers: {tier2: {probes: [{name: trace}]}}", "tiers.tier2.probes.0"),
    ],
)
def test_bad_values_and_keys_are_named(tmp_path: Path, yaml: str, named: str) -> None:
    assert named in error(tmp_path, yaml)


def test_cross_references_are_checked(tmp_path: Path) -> None:
    dup = "servers: [{name: a, host: x}, {name: a, host: y}]"
    assert "'a' used twice" in error(tmp_path, dup)
    ref = "targets: [{name: f, url: 'http://x', stats_server: nope}]"
    assert "stats_server 'nope'" in error(tmp_path, ref)


def test_probe_shorthand_and_labels(tmp_path: Path) -> None:
    cfg = load(tmp_path, "tiers: {tier3: {probes: [rpm, {probe: iperf, label: up}]}}")
    assert [(p.probe, p.name) for p in cfg.tiers.tier3.probes] == [("rpm", "rpm"), ("iperf", "up")]


def test_server_label_base_url_and_dns_name() -> None:
    srv = config.ServerTarget(host="::1")
    assert srv.label == "::1" and srv.base_url == "http://[::1]:8080"
    assert srv.resolve_name is None
    assert config.ServerTarget(host="perf.example").resolve_name == "perf.example"
    assert config.ServerTarget(host="::1", dns_name="x.test").resolve_name == "x.test"


def test_base_yml_is_the_one_source_of_policy_and_pending_settings(tmp_path: Path) -> None:
    import dataclasses

    import yaml as pyyaml

    from waddleperf.autoperf import bundles, daemon, policy

    doc = pyyaml.safe_load(config.BASE_FILE.read_text())
    doc["hysteresis"] = {"breaches": 5, "critical_breaches": 4, "cooldown_s": 33}
    doc["tiers"]["tier2"]["max_cycles"] = 7
    doc["storage"].update(pending_max_bytes=12345, pending_max_bundles=6,
                          spool_dir=str(tmp_path / "spool"))  # fmt: skip
    base = tmp_path / "base.yml"
    base.write_text(pyyaml.safe_dump(doc))
    cfg = config.load(environ={}, base_file=base)
    assert (cfg.hysteresis.breaches, cfg.hysteresis.cooldown_s) == (5, 33)
    assert daemon.policy_config(cfg) == policy.PolicyConfig(
        breaches=5, critical_breaches=4, cooldown_s=33.0, max_cycles={2: 7, 3: 1}
    )
    # the policy takes the hysteresis section field for field, nothing of its own
    fields = {f.name for f in dataclasses.fields(policy.PolicyConfig)}
    assert fields == set(config.Hysteresis.model_fields) | {"max_cycles"}
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(policy.PolicyConfig))
    sink = bundles.BundleSink.from_config(cfg)
    try:
        assert (sink.pending.limits.max_bytes, sink.pending.limits.max_bundles) == (12345, 6)
    finally:
        sink.close(drain=False)


def test_policy_and_pending_settings_have_no_second_default(tmp_path: Path) -> None:
    models: list[tuple[type[BaseModel], tuple[str, ...]]] = [
        (config.Hysteresis, ("breaches", "critical_breaches", "cooldown_s")),
        (config.Tier2, ("max_cycles",)),
        (config.Tier3, ("max_cycles",)),
        (config.StorageConfig, ("pending_max_bytes", "pending_max_bundles")),
    ]
    for model, keys in models:
        for key in keys:
            assert model.model_fields[key].is_required(), f"{model.__name__}.{key}"
    assert "hysteresis.breaches" in error(tmp_path, "hysteresis: {breaches: null}")


def test_a_tier3_target_is_a_plan_with_a_place() -> None:
    target = config.LoadTarget(name="f", url="http://127.0.0.1:9", users=3, shape="ramp")
    assert target.plan == LoadOptions(users=3, shape="ramp")
    assert set(LoadOptions.model_fields) < set(config.LoadTarget.model_fields)
    with pytest.raises(ValueError, match="at most 3600 s"):
        config.LoadTarget(name="f", url="http://127.0.0.1:9", duration_s=3601)
    with pytest.raises(ValueError, match="unknown user"):
        config.LoadTarget(name="f", url="http://127.0.0.1:9", user="robot")
