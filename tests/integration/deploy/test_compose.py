"""docker-compose.yml checked offline, with and without its optional ``metrics`` profile
(Prometheus and Grafana): Compose v2 resolves it with every secret set and refuses it with any
one unset, the compose-spec schema accepts it, and what it publishes, checks and feeds each
service is what the deployment docs promise."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deployfiles import (
    BIN_DIR,
    COMPOSE_FILE,
    DEPLOY,
    compose_run,
    env_example_names,
    filled_secrets,
    resolved,
    write_env,
)
from waddleperf.autoperf import config as agent_config
from waddleperf.results.stores.s3_config import S3Config
from waddleperf_server import config as server_config

REQUIRED, OPTIONAL = env_example_names()
#: The server's probe ports: the only ones meant for the internet.
PUBLIC_PORTS = {(8080, "tcp"), (2001, "tcp"), (2000, "udp"), (5201, "tcp"), (5201, "udp")}
ONE_SHOT = {"minio-bucket"}
WORKERS = {"flask-worker", "django-worker"}
METRICS = {"prometheus", "grafana"}
#: The stack alone, and with the optional Prometheus and Grafana.
PROFILES = pytest.mark.parametrize("profiles", [(), ("metrics",)], ids=["base", "metrics"])


@pytest.fixture(scope="module", params=[(), ("metrics",)], ids=["base", "metrics"])
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, Any]:
    env = write_env(tmp_path_factory.mktemp("compose") / "test.env", filled_secrets())
    return resolved(env, request.param)


@PROFILES
def test_config_quiet_accepts_the_stack(tmp_path: Path, profiles: tuple[str, ...]) -> None:
    env = write_env(tmp_path / "test.env", filled_secrets())
    done = compose_run(env, "config", "-q", profiles=profiles)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


@PROFILES
@pytest.mark.parametrize("name", REQUIRED)
def test_a_secret_unset_stops_the_stack(
    tmp_path: Path, name: str, profiles: tuple[str, ...]
) -> None:
    values = filled_secrets()
    for empty in (False, True):
        if empty:
            values[name] = ""
        else:
            del values[name]
        env = write_env(tmp_path / "test.env", values)
        done = compose_run(env, "config", "-q", profiles=profiles)
        assert done.returncode != 0, f"{name} {'empty' if empty else 'unset'}: stack accepted"
        assert f"required variable {name} is missing a value" in done.stderr
        assert ".env" in done.stderr  # the message says where to set it
        values = filled_secrets()


def test_every_required_variable_is_documented() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    optional = set(re.findall(r"\$\{([A-Z0-9_]+):-", text))
    assert required == set(REQUIRED)
    assert optional == set(OPTIONAL)
    assert not re.search(r"\$\{[A-Z0-9_]+\}", text), "a variable without :? or :-"


@pytest.mark.parametrize("document", ["raw", "resolved"])
def test_compose_spec_schema(tmp_path: Path, stack: dict[str, Any], document: str) -> None:
    path = COMPOSE_FILE
    if document == "resolved":
        path = tmp_path / "resolved.json"
        path.write_text(json.dumps(stack), encoding="utf-8")
    argv = [str(BIN_DIR / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_stack_has_every_part(stack: dict[str, Any]) -> None:
    services = set(stack["services"])
    wanted = {"server", "agent", "ui", "flask", "django", "mariadb", "redis", "minio"}
    assert wanted <= services
    assert stack["services"]["minio-bucket"]["command"][:2] == ["mb", "--ignore-existing"]


def test_only_the_probe_ports_face_the_internet(stack: dict[str, Any]) -> None:
    for name, svc in stack["services"].items():
        for port in svc.get("ports", []):
            key = (int(port["target"]), port["protocol"])
            if name == "server" and key in PUBLIC_PORTS:
                continue
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {key} beyond loopback"
    published = {(int(p["target"]), p["protocol"]) for p in stack["services"]["server"]["ports"]}
    assert published == PUBLIC_PORTS
    for name in ("mariadb", "redis", "flask", "django", *WORKERS):
        assert not stack["services"][name].get("ports"), f"{name} is published"
        assert set(stack["services"][name]["networks"]) == {"private"}
    assert stack["networks"]["private"]["internal"] is True


def test_healthchecks_and_ordered_start(stack: dict[str, Any]) -> None:
    services = stack["services"]
    for name, svc in services.items():
        if name in ONE_SHOT or name in WORKERS:
            continue
        check = svc.get("healthcheck", {})
        assert check.get("test", [None])[0] == "CMD", f"{name}: no exec-form healthcheck"
        assert not check.get("disable")
    for name, svc in services.items():
        for dep, cond in svc.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert cond["condition"] == wanted, f"{name} waits for {dep} only to start"
    assert set(services["agent"]["depends_on"]) >= {"server", "minio-bucket"}
    assert set(services["ui"]["depends_on"]) >= {"mariadb", "minio-bucket"}


def test_images_are_pinned(stack: dict[str, Any]) -> None:
    for name, svc in stack["services"].items():
        image = svc["image"]
        tag = image.rpartition(":")[2]
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
        assert "alpine" not in image


def test_own_services_are_hardened(stack: dict[str, Any]) -> None:
    for name in ("server", "agent", "ui", "flask", "django", *WORKERS):
        svc = stack["services"][name]
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert not svc.get("privileged"), name


def test_secrets_reach_only_their_services(stack: dict[str, Any]) -> None:
    secrets = filled_secrets()
    holders = {
        name: {k for k, v in secrets.items() for val in _env(svc).values() if v in val}
        for name, svc in stack["services"].items()
    }
    assert holders["flask"] == {"REDIS_PASSWORD"}
    assert holders["server"] == {"WADDLEPERF_UDP_KEY", "WADDLEPERF_STATS_TOKEN"}
    assert "MARIADB_ROOT_PASSWORD" not in holders["ui"]
    assert holders["agent"] == {"WADDLEPERF_UDP_KEY", "WADDLEPERF_STATS_TOKEN",
                                "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}  # fmt: skip
    if holders.keys() >= METRICS:
        assert holders["grafana"] == {"GRAFANA_ADMIN_PASSWORD"}
        assert holders["prometheus"] == set()  # the token is a mounted secret, not a variable
    assert [n for n, held in holders.items() if "GRAFANA_ADMIN_PASSWORD" in held] in (
        [],
        ["grafana"],
    )


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
    env["<command>"] = " ".join(str(a) for a in svc.get("command") or [])
    return env


def test_agent_environment_is_a_valid_configuration(stack: dict[str, Any]) -> None:
    env = _env(stack["services"]["agent"])
    del env["<command>"]
    # the image's own ENV lines (client/Dockerfile)
    env |= {"WADDLEPERF_STORAGE_SPOOL_DIR": "/var/lib/waddleperf/spool",
            "WADDLEPERF_STORAGE_STORE_DIR": "/var/lib/waddleperf/results"}  # fmt: skip
    cfg = agent_config.load(environ=env)
    assert cfg.storage.store.kind == "s3"
    s3 = cfg.storage.store.s3
    assert isinstance(s3, S3Config)
    assert (s3.bucket, s3.endpoint_url, s3.addressing_style) == (
        "waddleperf", "http://minio:9000", "path")  # fmt: skip
    server = cfg.server("server")
    assert server.udp_key_env in env and server.stats_token_env in env
    assert [t.name for t in cfg.targets] == ["flask", "django"]
    assert cfg.metrics.listen == "0.0.0.0:9427"  # for the metrics profile's Prometheus
    assert not stack["services"]["agent"].get("ports")  # the exporter is never published
    ui_results = stack["services"]["ui"]["command"]
    assert ui_results[ui_results.index("--results") + 1] == f"s3://{s3.bucket}/{s3.prefix}"


def test_server_environment_is_a_valid_configuration(stack: dict[str, Any]) -> None:
    env = _env(stack["services"]["server"])
    del env["<command>"]
    cfg = server_config.load(environ=env)
    assert cfg.operator.allowed_networks == []
    assert cfg.operator.token_env == "WADDLEPERF_STATS_TOKEN"


# --- the optional metrics profile: Prometheus and Grafana ----------------------------------


@pytest.fixture(scope="module")
def with_metrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = write_env(tmp_path_factory.mktemp("compose") / "test.env", filled_secrets())
    return resolved(env, ("metrics",))


@pytest.fixture(scope="module")
def without_metrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = write_env(tmp_path_factory.mktemp("compose") / "test.env", filled_secrets())
    return resolved(env)


def _mounts(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A service's volumes by their path in the container."""
    return {v["target"]: v for v in svc.get("volumes", [])}


def test_metrics_services_come_only_with_their_profile(
    with_metrics: dict[str, Any], without_metrics: dict[str, Any]
) -> None:
    assert not METRICS & set(without_metrics["services"])
    assert set(with_metrics["services"]) == set(without_metrics["services"]) | METRICS
    for name in METRICS:
        assert with_metrics["services"][name]["profiles"] == ["metrics"]
    for name, svc in without_metrics["services"].items():
        assert not svc.get("profiles"), f"{name} is optional"


def test_metrics_uis_are_operator_only(with_metrics: dict[str, Any]) -> None:
    for name, port in (("prometheus", 9090), ("grafana", 3000)):
        svc = with_metrics["services"][name]
        assert [(p["host_ip"], int(p["target"])) for p in svc["ports"]] == [("127.0.0.1", port)]
        assert svc["cap_drop"] == ["ALL"] and "no-new-privileges:true" in svc["security_opt"]
    grafana = with_metrics["services"]["grafana"]["environment"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_prometheus_scrapes_the_stack(with_metrics: dict[str, Any]) -> None:
    svc = with_metrics["services"]["prometheus"]
    mounts = _mounts(svc)
    config_path = next(
        a.partition("=")[2] for a in svc["command"] if a.startswith("--config.file=")
    )
    assert Path(mounts[config_path]["source"]) == DEPLOY / "prometheus" / "prometheus-compose.yml"
    config = yaml.safe_load(Path(mounts[config_path]["source"]).read_text(encoding="utf-8"))
    for rule_file in config["rule_files"]:
        assert Path(mounts[rule_file]["source"]) == DEPLOY / "prometheus" / "rules.yml"
    assert all(m["read_only"] for m in mounts.values() if m["type"] == "bind")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    # the server's /metrics with the /stats token, mounted as a Compose secret
    server = jobs["waddleperf-server"]
    assert server["static_configs"][0]["targets"] == ["server:8080"]
    token_file = server["authorization"]["credentials_file"]
    (secret,) = svc["secrets"]
    assert secret["target"] == token_file
    assert with_metrics["secrets"][secret["source"]]["environment"] == "WADDLEPERF_STATS_TOKEN"
    # the agent's exporter, where the agent's environment makes it listen
    listen = with_metrics["services"]["agent"]["environment"]["WADDLEPERF_METRICS_LISTEN"]
    assert jobs["waddleperf-agent"]["static_configs"][0]["targets"] == [
        "agent:" + listen.rpartition(":")[2]
    ]


def test_grafana_is_provisioned_from_deploy(with_metrics: dict[str, Any]) -> None:
    mounts = _mounts(with_metrics["services"]["grafana"])
    provisioning = Path(mounts["/etc/grafana/provisioning"]["source"])
    assert provisioning == DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    listen = next(a for a in with_metrics["services"]["prometheus"]["command"] if "listen" in a)
    assert source["url"] == "http://prometheus:" + listen.rpartition(":")[2]
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards" / "waddleperf.yml").read_text(encoding="utf-8")
    )["providers"]
    dashboards = [t for t in mounts if t.startswith(provider["options"]["path"] + "/")]
    assert [Path(mounts[t]["source"]) for t in dashboards] == [
        DEPLOY / "grafana" / "waddleperf.json"
    ]
    assert json.loads((DEPLOY / "grafana" / "waddleperf.json").read_text(encoding="utf-8"))["uid"]


def test_grafana_password_has_no_default(tmp_path: Path) -> None:
    values = filled_secrets()
    assert "GRAFANA_ADMIN_PASSWORD" in values  # required in .env.example
    del values["GRAFANA_ADMIN_PASSWORD"]
    done = compose_run(write_env(tmp_path / "t.env", values), "config", "-q", profiles=("metrics",))
    assert "required variable GRAFANA_ADMIN_PASSWORD is missing a value" in done.stderr
    assert done.returncode != 0
