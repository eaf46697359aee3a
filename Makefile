# WaddlePerf — two commands on a fresh Debian machine (as root): `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     := .venv
UV_VER   := 0.13.9
UV       := .tools/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
# Debian packages the server, the probes, the network lab and the tests use.
APT_PACKAGES := iperf3 iputils-ping iproute2 nftables dnsmasq-base openssh-server \
                traceroute mtr-tiny dnsutils procps libpcap0.8 psmisc docker-compose wrk redis-server mariadb-server postgresql prometheus \
                openssl python3 python3-venv chromium openjdk-17-jre-headless nginx php-fpm

.PHONY: help setup system-deps venv run test lint typecheck unit integration lab lab-shell bench clean

help:
	@echo "make run    on loopback: probe every server service once and print a table, then run one"
	@echo "           AutoPerf cycle through tier 3 (load + profiling), bundle stored in waddleperf-demo/"
	@echo "make test   install what is missing, then lint, type-check and run the whole suite"
	@echo "make bench  side-by-side benchmarks (figures go to docs/performance.md)"
	@echo "make lab-shell ARGS=\"--routers 3 --delay-ms 20\"  a shell in a throw-away network lab"

setup: system-deps venv

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install -q uv==$(UV_VER)

venv: $(UV)
	$(UV) sync --frozen --all-extras --python python3 -q

run: setup
	$(VENV)/bin/waddleperf demo

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

unit: venv
	$(VENV)/bin/pytest -q -n 2 tests/unit

integration: setup
	$(VENV)/bin/pytest -q -n 2 -m "not serial" tests/integration
	$(VENV)/bin/pytest -q -p no:xdist -m serial tests/integration

lab: setup
	$(VENV)/bin/pytest -q -p no:xdist tests/lab

# The lab in the background beside lint, types and the parallel tests, then the whole-machine
# tests alone, then the slowest tests and one count line: tests/suite.sh, docs/testing.md.
test: setup
	VENV=$(VENV) bash tests/suite.sh

bench: setup
	$(VENV)/bin/python -m bench.server
	$(VENV)/bin/python -m bench.http_parse
	$(VENV)/bin/python -m bench.load
	$(VENV)/bin/python -m bench.startup
	$(VENV)/bin/python -m bench.icmp_loopback
	$(VENV)/bin/python -m bench.report

lab-shell: setup
	$(VENV)/bin/python -m tests.lab.shell $(ARGS)

clean:
	rm -rf .tools $(VENV) .pytest_cache .mypy_cache .ruff_cache .suite
