# Ticketstream developer entry points. `make run` and `make test` are the whole set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
PACKAGES := -e ./shared -e ./services/ingest -e ./services/tickets -e ./services/sla -e ./services/notify -e ./services/analytics
STAMP := $(VENV)/.installed

.PHONY: install imap-test-server run test test-unit test-service test-e2e bench lint constraints asyncapi clean

install: $(STAMP)

$(STAMP): constraints.txt requirements-dev.in shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -c constraints.txt $(PACKAGES) -r requirements-dev.in
	touch $(STAMP)

# The IMAP service tests run Debian's dovecot as a child process (CI has no Docker engine), so
# it is installed once when missing. Without apt-get (or root) this only warns: the IMAP tests
# then fail and say why, rather than being skipped.
imap-test-server:
	@if ! PATH="$$PATH:/usr/sbin:/sbin" command -v dovecot >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing dovecot-imapd for the IMAP service tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null) \
	      || echo "warning: could not install dovecot-imapd; the IMAP service tests will fail" >&2; \
	  else \
	    echo "warning: dovecot is missing and apt-get is not available; the IMAP service tests will fail" >&2; \
	  fi; \
	fi

run: install
	$(BIN)/ticketstream up

test: install imap-test-server
	$(BIN)/python -m pytest tests/unit tests/contract tests/deploy tests/service tests/e2e

test-unit: install
	$(BIN)/python -m pytest tests/unit tests/contract

test-service: install imap-test-server
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
