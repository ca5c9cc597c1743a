# Lockgate: two commands on a fresh machine (Python 3.11+ and make are all it needs).
#   make demo   — install, then run the example catalog end to end (Prefect ephemeral mode)
#   make test   — install, then run lint and the whole test suite

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
RUN := $(UV) run --frozen --no-sync
CATALOG ?= examples/catalog
LAKE ?= lake

# Everything Prefect and Great Expectations keep on disk stays inside the checkout.
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_LOGGING_LEVEL ?= WARNING
export GX_ANALYTICS_ENABLED := false
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install demo test lint fmt schemas catalog clean

help:
	@echo "make demo   — install and run the example catalog end to end"
	@echo "make test   — install and run lint plus the whole test suite"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

install: $(VENV)/.installed

# The demo's masking key lives outside the catalog (never in YAML) and is made once per checkout.
.lockgate/demo-hash.key:
	@mkdir -p .lockgate && chmod 700 .lockgate
	@$(PYTHON) -c "import secrets; print(secrets.token_hex(32))" > $@ && chmod 600 $@

demo: install .lockgate/demo-hash.key
	$(RUN) lockgate validate --catalog $(CATALOG)
	LOCKGATE_HASH_KEY="$$(cat .lockgate/demo-hash.key)" $(RUN) lockgate run --catalog $(CATALOG) --lake $(LAKE)
	$(RUN) lockgate sql --lake $(LAKE) "SELECT customer_id, email, phone, card_number, birth_date, comment FROM customers WHERE comment LIKE '%[%' LIMIT 5"

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

test: lint
	$(RUN) pytest

fmt: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

schemas: install
	$(RUN) lockgate schema --out schemas

catalog: install
	$(RUN) python examples/generate_catalog.py

clean:
	rm -rf $(LAKE) .prefect .pytest_cache .ruff_cache
