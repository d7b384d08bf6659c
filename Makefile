# Everyday commands. Each one creates the virtual environment it needs on first use, so a fresh
# clone needs only Python 3.11+ and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The local runs (demo, invoke, api, lambda-invoke) have their own small venv: seconds to make.
DEMO_VENV := .venv-demo
DEMO_BIN := $(DEMO_VENV)/bin
# The operators' tool, cashout-ops, has its own small venv too (make ops).
OPS_VENV := .venv-ops
PIP_AUDIT ?= $(BIN)/pip-audit
EVENT ?= events/direct-cancel.json
PORT ?= 3000
# RUNTIME=lambda: make demo and make api run the built artifact under awslambdaric (lambda-invoke).
# ARGS: more options for make demo (ARGS=--verbose, ARGS=--no-bulk).
# D24=down|slow|wrong-credentials: make api's D24 sandbox misbehaves from the start (docs/runbook.md).
RUNTIME ?= in-process
D24 ?=
RUNTIME_ARGS = $(if $(filter lambda,$(RUNTIME)),--runtime lambda --build-dir $(LAMBDA_LOCAL_DIR))
RUNTIME_BUILD = $(if $(filter lambda,$(RUNTIME)),lambda-build)

# The function's package and the local tools import from here, as Lambda would from its root.
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)

.DEFAULT_GOAL := help
.PHONY: help venv demo-venv ops test test-fast lint audit audit-strict demo invoke lambda-invoke \
	api rehearse bench clean

## help: list the commands
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## /  make /'

## venv: create .venv with the runtime and development requirements
venv: $(VENV)/.installed

# uv resolves and installs the test and lint tools in seconds where pip takes minutes (pip if uv
# cannot be had); both settle the unpinned dependencies on the same versions.
$(VENV)/.installed: requirements.txt requirements-dev.txt scripts/pinned_venv.sh
	PYTHON=$(PYTHON) UV_PIN=$(UV_PIN) RESOLVE=1 sh scripts/pinned_venv.sh $(VENV) requirements-dev.txt
	touch $@

## demo-venv: create .venv-demo with only what demo, invoke, api and lambda-invoke need (requirements-demo.txt)
demo-venv: $(DEMO_VENV)/.installed

$(DEMO_VENV)/.installed: requirements.txt requirements-demo.txt scripts/pinned_venv.sh
	PYTHON=$(PYTHON) UV_PIN=$(UV_PIN) sh scripts/pinned_venv.sh $(DEMO_VENV) requirements-demo.txt
	touch $@

## ops: create .venv-ops with the operators' tool: .venv-ops/bin/cashout-ops send|replay (docs/runbook.md)
ops: $(OPS_VENV)/.installed

# The pinned list first, then this repository as an editable install (ops/ and src/cashout_cancel,
# found by package discovery): the tool runs the clone's own code, and a `git pull` needs no
# reinstall. No index and no build isolation: nothing is fetched beyond requirements-ops.txt.
# (setuptools warns on every editable install from two source folders; the warning is silenced.)
$(OPS_VENV)/.installed: requirements-ops.txt pyproject.toml scripts/pinned_venv.sh
	PYTHON=$(PYTHON) UV_PIN=$(UV_PIN) sh scripts/pinned_venv.sh $(OPS_VENV) requirements-ops.txt
	PYTHONWARNINGS="ignore:Editable installation" $(OPS_VENV)/bin/python -m pip install --quiet \
		--disable-pip-version-check --no-index --no-deps --no-build-isolation --editable .
	$(OPS_VENV)/bin/python -m pip check --disable-pip-version-check
	touch $@

## test: every tier (docs/testing.md), slow tests too, with branch coverage of src/
test: venv
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term-missing:skip-covered --cov-report=xml

## test-fast: tests/unit and every test not marked slow (none takes over a second), no coverage, stops at the first failure
test-fast: venv
	$(BIN)/python -m pytest -n 2 -x -q -m "not slow"

## lint: ruff, formatting, mypy, bandit, the dependency audit and the template checks
lint: venv tools-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy local tests scripts ops examples --ignore-missing-imports
	$(BIN)/bandit -q -c pyproject.toml -r src
	$(MAKE) --no-print-directory audit
	$(MAKE) --no-print-directory check-template

## audit: pip-audit over requirements.txt: fails on a known vulnerability; passes, under a loud NOT AUDITED banner, when it could not check
audit: venv
	$(BIN)/python scripts/audit_dependencies.py --pip-audit $(PIP_AUDIT) requirements.txt

## audit-strict: the same, and fails when it could not check every package (where the vulnerability service should be reachable)
audit-strict: venv
	$(BIN)/python scripts/audit_dependencies.py --strict --pip-audit $(PIP_AUDIT) requirements.txt

## demo: every event in events/ through the real handler, then a bulk cancel through a local queue, against a local D24 sandbox and moto (RUNTIME=lambda, ARGS=--verbose)
demo: demo-venv $(RUNTIME_BUILD)
	$(DEMO_BIN)/python -m local.demo $(RUNTIME_ARGS) $(ARGS)

## invoke: one event through the real handler (make invoke EVENT=events/<file>.json)
invoke: demo-venv
	$(DEMO_BIN)/python -m local.demo $(EVENT)

## lambda-invoke: one event through the built artifact, run by awslambdaric from a local Runtime API (LAMBDA_PYTHON=python3.13)
lambda-invoke: demo-venv lambda-build
	$(DEMO_BIN)/python -m local.demo --verbose --runtime lambda --build-dir $(LAMBDA_LOCAL_DIR) $(EVENT)

## api: serve the function's HTTP API on localhost:$(PORT), as `sam local start-api` would (RUNTIME=lambda, D24=down|slow|wrong-credentials)
api: demo-venv $(RUNTIME_BUILD)
	$(DEMO_BIN)/python -m local.api --port $(PORT) $(RUNTIME_ARGS) $(if $(D24),--d24 $(D24))

## rehearse: D24 down fills both failure queues, then cashout-ops replay (with --endpoint-url) puts them back, against the local function
rehearse: demo-venv
	$(DEMO_BIN)/python -m local.bulk_demo

## bench: warm, cold-start, memory and bulk-throughput benchmark against floors and a naive handler (BENCH_ARGS=--quick)
bench: venv
	$(BIN)/python -m local.bench $(BENCH_ARGS)

## clean: remove build output and caches (not the virtual environments)
clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage* coverage.xml htmlcov .hypothesis
	find . -name __pycache__ -not -path './.venv*' -prune -exec rm -rf {} +

include deploy.mk

# The local build installs with the demo venv's interpreter (deploy.mk's LAMBDA_PYTHON) unless
# LAMBDA_PYTHON names another one (the tests: their own); after the include, which sets it.
lambda-build: $(if $(filter $(abspath $(DEMO_BIN)/python),$(abspath $(LAMBDA_PYTHON))),demo-venv)
