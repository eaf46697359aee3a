"""The images' Dockerfiles: hadolint clean, multi-stage on one pinned Debian Python base, the
final stage without build tools or secrets, run as a numeric non-root user, with a real
HEALTHCHECK; every extra they install exists and exports from the lock offline."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

import pytest

from tests.support.deployfiles import BIN_DIR, CHECKOUT, DOCKERFILES, Dockerfile, read_dockerfile

UV = CHECKOUT / ".tools" / "bin" / "uv"
BASE = re.compile(r"python:3\.11\.\d+-slim-bookworm")
SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY\b|CREDENTIAL)", re.IGNORECASE)
BUILD_TOOLS = ("uv ", "pip install", "gcc", "build-essential", "git ")


def _read(path: str) -> Dockerfile:
    return read_dockerfile(CHECKOUT / path)


@pytest.mark.parametrize("path", DOCKERFILES)
def test_hadolint_clean(path: str) -> None:
    argv = [str(BIN_DIR / "hadolint"), "--format", "json", str(CHECKOUT / path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    findings = json.loads(done.stdout or "[]")
    assert findings == [], findings
    assert done.returncode == 0


@pytest.mark.parametrize("path", DOCKERFILES)
def test_multi_stage_on_the_pinned_base(path: str) -> None:
    df = _read(path)
    assert BASE.fullmatch(df.args["PYTHON_IMAGE"]), df.args
    assert len(df.stages) >= 2
    assert all(s.base == "${PYTHON_IMAGE}" for s in df.stages)
    builder, final = df.stages[0], df.stages[-1]
    assert builder.name == "builder"
    assert any("--from=builder /opt/waddleperf /opt/waddleperf" in c for c in final.all("COPY"))


@pytest.mark.parametrize("path", DOCKERFILES)
def test_final_stage_has_no_build_tools(path: str) -> None:
    final = _read(path).stages[-1]
    for run in final.all("RUN"):
        assert not any(tool in run for tool in BUILD_TOOLS), run
        for install in re.findall(r"install -y --no-install-recommends ([^&]+)", run):
            for package in install.split():
                assert re.fullmatch(r"[a-z0-9.+-]+=[\w.:~+-]+", package), f"unpinned {package}"


@pytest.mark.parametrize("path", DOCKERFILES)
def test_runs_as_numeric_non_root(path: str) -> None:
    final = _read(path).stages[-1]
    users = final.all("USER")
    assert users, "no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0


@pytest.mark.parametrize("path", DOCKERFILES)
def test_healthcheck_runs_a_real_check(path: str) -> None:
    (check,) = _read(path).stages[-1].all("HEALTHCHECK")
    assert "--interval=" in check and "--timeout=" in check
    exec_form = json.loads(check.partition("CMD")[2].strip())
    assert exec_form[0] in ("python", "waddleperf")
    assert "http://127.0.0.1:" in " ".join(exec_form) or "--check-config" in exec_form


@pytest.mark.parametrize("path", DOCKERFILES)
def test_no_secret_baked_in(path: str) -> None:
    df = _read(path)
    for stage in df.stages:
        for kw in ("ENV", "ARG", "LABEL"):
            for arg in stage.all(kw):
                assert not SECRETISH.search(arg), f"{kw} {arg}"
    text = (CHECKOUT / path).read_text(encoding="utf-8")
    assert ".env" not in text and "COPY . " not in text


def _extras(path: str) -> list[str]:
    text = " ".join(_read(path).stages[0].all("RUN"))
    return re.findall(r"--extra (\w+)", text)


@pytest.mark.parametrize("path", DOCKERFILES)
def test_extras_exist_and_export_from_the_lock(path: str) -> None:
    declared = tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = _extras(path)
    assert extras, "the builder installs no extra"
    assert set(extras) <= set(declared["project"]["optional-dependencies"])
    assert UV.exists(), "needs the checkout's uv (make venv)"
    argv = [str(UV), "export", "--frozen", "--no-dev", "--no-emit-project",
            *[a for e in extras for a in ("--extra", e)]]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "UV_OFFLINE": "1"}
    done = subprocess.run(argv, cwd=CHECKOUT, capture_output=True, text=True, timeout=60,
                          env=env, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    wanted = {"server": "gevent==", "load": "locust==", "ui": "py4web==", "targets": "gunicorn=="}
    for extra in extras:
        assert wanted[extra] in done.stdout
    assert "--hash=sha256:" in done.stdout


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (CHECKOUT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert lines[lines.index("**")] == "**"  # everything out, then the sources back in
    assert "!.env" not in lines and "!.venv" not in lines
