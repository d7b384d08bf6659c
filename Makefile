# Everyday commands. Each one creates the virtual environment it needs on first use, so a fresh
# clone needs only Python 3.11+ and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EVENT ?= events/direct-cancel.json
PORT ?= 3000
# RUNTIME=lambda: make demo and make api run the built artifact under awslambdaric (lambda-invoke).
RUNTIME ?= in-process
RUNTIME_ARGS = $(if $(filter lambda,$(RUNTIME)),--runtime lambda --build-dir $(LAMBDA_LOCAL_DIR))
RUNTIME_BUILD = $(if $(filter lambda,$(RUNTIME)),lambda-build)

# The function's package and the local tools import from here, as Lambda would from its root.
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)

.DEFAULT_GOAL := help
.PHONY: help venv test test-fast lint audit demo invoke lambda-invoke api bench dashboard clean

## help: list the commands
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## /  make /'

## venv: create .venv with the runtime and development requirements
venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## test: the whole suite (unit, integration, faults, properties, template) with branch coverage
test: venv
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term-missing:skip-covered --cov-report=xml

## test-fast: the suite without coverage, stopping at the first failure
test-fast: venv
	$(BIN)/python -m pytest -n 2 -x -q

## lint: ruff, formatting, mypy, bandit, the dependency audit and the template checks
lint: venv tools-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy local tests scripts ops --ignore-missing-imports
	$(BIN)/bandit -q -c pyproject.toml -r src
	$(MAKE) --no-print-directory audit
	$(MAKE) --no-print-directory check-template

## audit: pip-audit over requirements.txt; says NOT AUDITED (and fails) when it could not check
audit: venv
	$(BIN)/python scripts/audit_dependencies.py requirements.txt

## demo: every event in events/ through the real handler, then a bulk cancel through a local queue, against a local D24 sandbox and moto (RUNTIME=lambda)
demo: venv $(RUNTIME_BUILD)
	$(BIN)/python -m local.demo $(RUNTIME_ARGS)

## invoke: one event through the real handler (make invoke EVENT=events/<file>.json)
invoke: venv
	$(BIN)/python -m local.demo $(EVENT)

## lambda-invoke: one event through the built artifact, run by awslambdaric from a local Runtime API (LAMBDA_PYTHON=python3.13)
lambda-invoke: venv lambda-build
	$(BIN)/python -m local.demo --runtime lambda --build-dir $(LAMBDA_LOCAL_DIR) $(EVENT)

# The local build installs with the project venv's interpreter unless LAMBDA_PYTHON says otherwise.
lambda-build: venv

## api: serve the function's HTTP API on localhost:$(PORT), as `sam local start-api` would (RUNTIME=lambda)
api: venv $(RUNTIME_BUILD)
	$(BIN)/python -m local.api --port $(PORT) $(RUNTIME_ARGS)

## bench: warm, cold-start, memory and bulk-throughput benchmark against floors and a naive handler (BENCH_ARGS=--quick)
bench: venv
	$(BIN)/python -m local.bench $(BENCH_ARGS)

## dashboard: draw the template's dashboard from a local run of the real handler (docs/dashboard.png)
dashboard: venv
	$(BIN)/python -m local.dashboard --out docs/dashboard.png

## clean: remove build output and caches (not the virtual environments)
clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage* coverage.xml htmlcov .hypothesis
	find . -name __pycache__ -not -path './.venv*' -prune -exec rm -rf {} +

include deploy.mk
