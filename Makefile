# Two commands on a fresh machine (Python 3.11+ and make): `make demo`, `make test`. CI runs .ci/run.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# Use uv from PATH when there is one, else bootstrap it into .tools/ (a project-local venv).
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
BIN := .venv/bin
MELTANO := $(BIN)/meltano
SANDBOX_PORT ?= 8765
SANDBOX_SCALE ?= 1
PYTEST_ARGS ?=
NOW ?=
BENCH_ARGS ?=

export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
export MELTANO_DISABLE_TRACKING := true
export PYTHONDONTWRITEBYTECODE := 1
# ...but installs compile their bytecode (uv, and Meltano through uv, do not by default):
# without it every tap process spent ~0.4 s compiling the SDK's modules at start-up.
export UV_COMPILE_BYTECODE := 1

.PHONY: help install demo tenants-demo orchestrate test test-dates test-sdk-range test-lowest dist hub lint typecheck pytest sandbox readmes bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock singer-rest-toolkit/pyproject.toml tap-amilia/pyproject.toml tap-amperity/pyproject.toml tap-agyletime/pyproject.toml sandbox/pyproject.toml orchestration/pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

.meltano/.installed: .venv/.synced meltano.yml
	$(MELTANO) install
	@touch $@

install: .meltano/.installed  ## set up .venv (uv) and the Meltano plugins

sandbox: .venv/.synced  ## run the local vendor APIs in the foreground on SANDBOX_PORT
	$(BIN)/python -m api_sandbox --port $(SANDBOX_PORT) --scale $(SANDBOX_SCALE)

demo: install  ## the three taps side by side into DuckDB against the sandbox, then a summary
	@$(BIN)/python scripts/demo.py --port $(SANDBOX_PORT) --scale $(SANDBOX_SCALE)

tenants-demo: install  ## every tenant of tenants.yml through Dagster, side by side, into DuckDB (PG* set: PostgreSQL)
	@$(BIN)/python scripts/tenants_demo.py --port $(SANDBOX_PORT) --scale $(SANDBOX_SCALE)

UI_PORT ?= 3000
orchestrate: install  ## the Dagster UI on localhost:UI_PORT against the sandbox (tenants.yml as partitions)
	@$(BIN)/python scripts/orchestrate.py --port $(SANDBOX_PORT) --ui-port $(UI_PORT) --scale $(SANDBOX_SCALE)

lint: .venv/.synced  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# target-postgres-typed is checked against the loader's venv, the one place it is installed.
typecheck: install  ## mypy (strict)
	$(BIN)/mypy singer-rest-toolkit/singer_rest_toolkit tap-amilia/tap_amilia tap-amperity/tap_amperity tap-agyletime/tap_agyletime sandbox/api_sandbox orchestration/singer_orchestration scripts
	$(BIN)/mypy --python-executable .meltano/loaders/target-postgres/venv/bin/python target-postgres-typed/target_postgres_typed

pytest: install  ## unit, SDK standard and end-to-end tests
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test: lint typecheck pytest test-lowest  ## lint, types, pytest, lowest deps (CI's .ci/run adds test-dates, test-sdk-range, dist)

test-dates: install  ## the date-sensitive tests at fixed instants (or at NOW=ISO-INSTANT; TZ honoured)
	$(BIN)/python scripts/test_dates.py $(if $(NOW),--now $(NOW)) -- $(PYTEST_ARGS)

# The packages published to PyPI. Not the sandbox, nor target-postgres-typed: that is a variant
# of one loader release (it subclasses meltanolabs-target-postgres 0.8.x), not a library; Meltano
# installs it from its directory and tests/e2e/test_postgres_warehouse.py runs it as installed.
PACKAGES := singer-rest-toolkit tap-amilia tap-amperity tap-agyletime
RESOLUTIONS ?= lowest-direct highest

test-sdk-range: | $(UV)  ## each package alone at its lowest and highest allowed dependencies: toolkit tests, each tap's --about and offline --discover
	@for resolution in $(RESOLUTIONS); do for package in $(PACKAGES); do \
	  env=.sdk-range/$$resolution/$$package; rm -rf $$env; \
	  if [ $$package = singer-rest-toolkit ]; then \
	    extras='pytest>=9 pytest-timeout>=2.3 pytest-httpserver>=1.1 time-machine>=2.10'; else extras=./$$package; fi; \
	  $(UV) venv -q --python $(PYTHON) $$env && \
	  $(UV) pip install -q --python $$env/bin/python --resolution $$resolution ./singer-rest-toolkit $$extras && \
	  echo "$$package with $$resolution dependencies:" $$($(UV) pip freeze -q --python $$env/bin/python | grep -iE '^(singer-sdk|requests|click|pyrate-limiter|python-backoff|pyjwt|typing-extensions|msgspec)==') && \
	  if [ $$package = singer-rest-toolkit ]; then \
	    $$env/bin/pytest -q -p no:cacheprovider singer-rest-toolkit/tests; \
	  else \
	    $$env/bin/python scripts/smoke_tap.py $$package; \
	  fi || exit 1; \
	done; done

test-lowest: | $(UV)  ## test-sdk-range at the lowest allowed dependencies only
	$(MAKE) test-sdk-range RESOLUTIONS=lowest-direct

dist: .venv/.synced  ## every published package's sdist and wheel into dist/, checked (twine check --strict, LICENSE, metadata)
	rm -rf dist
	@for package in $(PACKAGES); do $(UV) build -q --out-dir dist $$package || exit 1; done
	$(BIN)/twine check --strict dist/*
	$(BIN)/python scripts/check_dist.py dist

hub: install  ## regenerate hub/ and meltano.yml's extractors and PostgreSQL loader settings from --about
	$(BIN)/python scripts/hub_definitions.py

bench: install  ## throughput, pacing, latency and memory of the taps -> docs/performance.md (BENCH_ARGS=--quick)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

readmes: .venv/.synced  ## regenerate each tap README's settings table from --about
	$(BIN)/python scripts/sync_readmes.py

clean:  ## remove environments, Meltano state and output
	rm -rf .venv .tools .meltano .sdk-range dist output/*.duckdb output/jsonl
