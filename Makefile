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
# The Label Studio server has pins that clash with Lockgate's: it gets an environment of its own, and
# Lockgate starts its executable (labeling/server.py) and talks to it over HTTP only.
LS_VENV ?= .ls-venv
LS_PROJECT := tools/label-studio
LS_DATA ?= .lockgate/label-studio

# Everything Prefect and Great Expectations keep on disk stays inside the checkout.
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_LOGGING_LEVEL ?= WARNING
export GX_ANALYTICS_ENABLED := false
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export LOCKGATE_LABEL_STUDIO_BIN ?= $(abspath $(LS_VENV))/bin/label-studio

.PHONY: help install label-studio-env label-studio demo test screenshots lint fmt schemas catalog clean

help:
	@echo "make demo   — install and run the example catalog end to end"
	@echo "make test   — install and run lint plus the whole test suite"
	@echo "make label-studio — run a local Label Studio server for annotators (Ctrl-C stops it)"
	@echo "make screenshots — refresh the README's Prefect UI screenshots (docs/screenshots/)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Bytecode is compiled once, here: with PYTHONDONTWRITEBYTECODE set (as on the CI machines) Python never
# caches what it compiles, so every process (each command, Prefect's server, each Dask worker, Label
# Studio) would compile its imports from source again: 8.0 s → 3.4 s to import Great Expectations,
# Prefect, polars, DuckDB and delta-rs. The checkout's own packages are compiled on every install (only
# what changed); a stale file is still recompiled in memory, never run stale.
PACKAGES := cli flows contracts sources storage labeling tools/bench/lockgate_bench

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: $(VENV)/.installed
	@$(RUN) python -m compileall -q -j 0 $(PACKAGES)

$(LS_VENV)/.installed: $(UV) $(LS_PROJECT)/pyproject.toml $(LS_PROJECT)/uv.lock
	UV_PROJECT_ENVIRONMENT=$(abspath $(LS_VENV)) $(UV) sync --frozen --compile-bytecode --project $(LS_PROJECT)
	@touch $@

label-studio-env: $(LS_VENV)/.installed

# Admin credentials are generated once into $(LS_DATA)/credentials.json (mode 600) and read from there
# (edit it before the first start to choose them); set LOCKGATE_LABEL_STUDIO_PORT for another port.
label-studio: install label-studio-env
	$(RUN) python -m labeling.server --data-dir $(LS_DATA) --port $(or $(LOCKGATE_LABEL_STUDIO_PORT),8080) --executable $(LOCKGATE_LABEL_STUDIO_BIN)

# The demo's masking key lives outside the catalog (never in YAML) and is made once per checkout.
.lockgate/demo-hash.key:
	@mkdir -p .lockgate && chmod 700 .lockgate
	@$(PYTHON) -c "import secrets; print(secrets.token_hex(32))" > $@ && chmod 600 $@

# The demo ingests the example catalog, shows masked data through DuckDB, then sends the support-ticket
# sample to a local Label Studio (started for the command, stopped after it; `make label-studio` keeps
# it running for annotators).
demo: install label-studio-env .lockgate/demo-hash.key
	$(RUN) lockgate validate --catalog $(CATALOG)
	LOCKGATE_HASH_KEY="$$(cat .lockgate/demo-hash.key)" $(RUN) lockgate run --catalog $(CATALOG) --lake $(LAKE)
	$(RUN) lockgate sql --lake $(LAKE) "SELECT customer_id, email, phone, card_number, birth_date, comment FROM customers WHERE comment LIKE '%[%' LIMIT 5"
	$(RUN) lockgate label dispatch --catalog $(CATALOG) --lake $(LAKE) --local-studio $(LS_DATA)
	@echo "Label the sample: 'make label-studio', open the project above (admin login in $(LS_DATA)/credentials.json;"
	@echo "annotators sign up through '.venv/bin/lockgate label invite --local-studio $(LS_DATA)'), then"
	@echo "'.venv/bin/lockgate label collect --catalog $(CATALOG) --lake $(LAKE) --local-studio $(LS_DATA)'."

# The browser test (tests/labeling/test_browser.py) drives Debian's Chromium: Playwright's own browser
# download does not work offline. Installed once, when missing; apt needs root.
CHROMIUM := /usr/bin/chromium

$(TOOLS)/.chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "$(CHROMIUM) is missing and apt-get needs root: run 'sudo apt-get install -y --no-install-recommends chromium', then make test again" >&2; \
			exit 1; \
		fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update; \
		apt-get install -y --no-install-recommends chromium; \
	fi
	@mkdir -p $(@D) && touch $@

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

# The suite runs in three pytest processes, each starting its services (Prefect, Label Studio, the S3 test
# server) once: no process holds the native libraries' state (DuckDB, delta-rs, Arrow) of every test. The
# last takes everything the first two do not, so a new test folder is never left out.
TEST_PART_1 := tests/bench tests/cli tests/contracts tests/examples
TEST_PART_2 := tests/flows tests/labeling

# Each part ends with its ten slowest tests, to keep the suite's wall time in view.
SLOWEST := --durations=10

test: lint label-studio-env $(TOOLS)/.chromium
	$(RUN) pytest $(SLOWEST) $(TEST_PART_1)
	$(RUN) pytest $(SLOWEST) $(TEST_PART_2)
	$(RUN) pytest $(SLOWEST) tests $(addprefix --ignore=,$(TEST_PART_1) $(TEST_PART_2))

# The README's Prefect UI screenshots, taken by the test that deploys the example catalog to a Prefect
# server on PostgreSQL (127.0.0.1:5432) and has a process worker run it; it reports its stages' times.
SCREENSHOT_TEST := tests/flows/test_prefect_server_postgres.py

screenshots: install $(TOOLS)/.chromium
	LOCKGATE_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(RUN) pytest $(SCREENSHOT_TEST) --durations=3

fmt: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

schemas: install
	$(RUN) lockgate schema --out schemas

catalog: install
	$(RUN) python examples/generate_catalog.py

clean:
	rm -rf $(LAKE) .prefect .pytest_cache .ruff_cache
