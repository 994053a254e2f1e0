# Ticketstream developer entry points. `make run` and `make test` are the whole set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
PACKAGES := -e ./shared -e ./services/ingest -e ./services/tickets -e ./services/sla -e ./services/notify -e ./services/analytics
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit test-service test-e2e bench lint constraints asyncapi clean

install: $(STAMP)

$(STAMP): constraints.txt requirements-dev.in shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -c constraints.txt $(PACKAGES) -r requirements-dev.in
	touch $(STAMP)

run: install
	$(BIN)/ticketstream up

test: install
	$(BIN)/python -m pytest tests/unit tests/contract tests/deploy tests/service tests/e2e

test-unit: install
	$(BIN)/python -m pytest tests/unit tests/contract

test-service: install
	$(BIN)/python -m pytest tests/service

test-e2e: install
	$(BIN)/python -m pytest tests/e2e

bench: install
	$(BIN)/python -m pytest tests/bench -s -p no:randomly

lint: install
	$(BIN)/ruff check shared services tests
	$(BIN)/ruff format --check shared services tests
	$(BIN)/mypy

asyncapi: install
	$(BIN)/ticketstream asyncapi --output asyncapi.json

# Re-pin every dependency (no index or download URLs are written).
constraints: install
	$(BIN)/uv pip compile requirements.in --no-emit-index-url --no-header --python-version 3.11 \
	  $(foreach p,shared ingest tickets sla notify analytics,--no-emit-package ticketstream-$(p)) -o constraints.txt

clean:
	rm -rf $(VENV) .devstack .pytest_cache .mypy_cache .ruff_cache
