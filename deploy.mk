# Build and template checks of the SAM application (template.yaml).
#
# Included by the root Makefile; also works alone: `make -f deploy.mk check-template`.
# `sam build` calls back into this file through the root Makefile (template.yaml:
# BuildMethod makefile, ContextPath and WorkingDirectory "."), running
# `make build-CancelCashoutFunction` with ARTIFACTS_DIR set.

# This file's directory, taken before any later include changes MAKEFILE_LIST.
DEPLOY_ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# The installer of every venv (scripts/pinned_venv.sh): pinned, fetched by this machine's pip.
UV_PIN ?= uv==0.13.8

TOOLS_VENV ?= $(DEPLOY_ROOT)/.venv-tools
TOOLS_BIN := $(TOOLS_VENV)/bin
TOOLS_PYTHON ?= python3
SAM := $(TOOLS_BIN)/sam

# The Lambda platform the dependencies are installed for: must match Runtime and
# Architectures in template.yaml (python3.13, arm64). pip downloads wheels for it,
# so neither Docker nor a local Python 3.13 is needed.
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): manylinux up to 2_28 fits.
LAMBDA_PYTHON_VERSION ?= 3.13
LAMBDA_PLATFORMS ?= manylinux2014_aarch64 manylinux_2_28_aarch64
BUILD_PYTHON ?= python3
# pip's platform options for LAMBDA_PLATFORMS; none when it is empty (lambda-build): pip then
# installs for BUILD_PYTHON on this machine.
LAMBDA_PIP_PLATFORM = $(if $(strip $(LAMBDA_PLATFORMS)),$(addprefix --platform ,$(LAMBDA_PLATFORMS)) \
	--implementation cp --python-version $(LAMBDA_PYTHON_VERSION))

# sam validate needs a region but no credentials; the template is region-agnostic.
TEMPLATE_CHECK_REGION ?= us-east-1

# No usage telemetry from sam during builds and checks.
export SAM_CLI_TELEMETRY = 0

.PHONY: tools-venv sam-build check-template build-CancelCashoutFunction lambda-build

## tools-venv: create .venv-tools (sam, cfn-lint, checkov) from requirements-tools.txt
tools-venv: $(TOOLS_VENV)/.installed

$(TOOLS_VENV)/.installed: $(DEPLOY_ROOT)/requirements-tools.txt $(DEPLOY_ROOT)/scripts/pinned_venv.sh
	PYTHON=$(TOOLS_PYTHON) UV_PIN=$(UV_PIN) RESOLVE=1 \
		sh $(DEPLOY_ROOT)/scripts/pinned_venv.sh $(TOOLS_VENV) $<
	touch $@

## sam-build: sam build into .aws-sam/build (what `sam deploy` uploads)
sam-build: tools-venv
	cd $(DEPLOY_ROOT) && $(SAM) build

## check-template: sam validate --lint, cfn-lint, checkov, SAM's wiring and a throwaway sam build; fails on any finding
check-template: tools-venv
	cd $(DEPLOY_ROOT) && $(SAM) validate --lint --region $(TEMPLATE_CHECK_REGION) --template-file template.yaml
	cd $(DEPLOY_ROOT) && AWS_DEFAULT_REGION=$(TEMPLATE_CHECK_REGION) \
		$(TOOLS_BIN)/python scripts/check_transformed_template.py
	cd $(DEPLOY_ROOT) && $(TOOLS_BIN)/cfn-lint template.yaml
	cd $(DEPLOY_ROOT) && $(TOOLS_BIN)/checkov --quiet --compact --framework cloudformation \
		--file template.yaml --skip-download
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
		cd $(DEPLOY_ROOT) && $(SAM) build --build-dir "$$tmp/build" --cache-dir "$$tmp/cache" && \
		test -f "$$tmp/build/CancelCashoutFunction/cashout_cancel/handler.py"

# Called by `sam build` (never directly): the function package plus its pinned
# runtime dependencies, as wheels for the Lambda platform, into ARTIFACTS_DIR.
build-CancelCashoutFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: run sam build" >&2; exit 1; }
	$(BUILD_PYTHON) -m pip install --quiet --disable-pip-version-check --no-compile \
		$(LAMBDA_PIP_PLATFORM) --only-binary=:all: \
		--target "$(ARTIFACTS_DIR)" -r $(DEPLOY_ROOT)/requirements.txt
	cp -R $(DEPLOY_ROOT)/src/cashout_cancel "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)/cashout_cancel" -depth -name __pycache__ -exec rm -rf {} +

# The same recipe for this machine: its platform and LAMBDA_PYTHON (default: the demo venv's
# interpreter; LAMBDA_PYTHON=python3.13 for the deployed version), so that the local Runtime API
# (make lambda-invoke) runs what deploys, laid out as Lambda lays it out:
#   $(LAMBDA_LOCAL_DIR)/CancelCashoutFunction/  the artifact (/var/task), as `sam build` makes it
#   $(LAMBDA_LOCAL_DIR)/runtime/                awslambdaric and its dependencies, at the versions
#                                               requirements-dev.txt pins (Lambda's runtime)
#   $(LAMBDA_LOCAL_DIR)/python                  the interpreter both were installed for
LAMBDA_PYTHON ?= $(DEPLOY_ROOT)/.venv-demo/bin/python
LAMBDA_LOCAL_DIR ?= $(DEPLOY_ROOT)/.aws-sam/local/$(notdir $(LAMBDA_PYTHON))
RUNTIME_CLIENT_PINS = $(shell sed -nE \
	's/^((awslambdaric|simplejson|snapshot-restore-py)==[^ \#]+).*/\1/p' \
	$(DEPLOY_ROOT)/requirements-dev.txt)

## lambda-build: the sam build recipe for this machine and LAMBDA_PYTHON, with awslambdaric beside it
lambda-build: $(LAMBDA_LOCAL_DIR)/python

$(LAMBDA_LOCAL_DIR)/python: $(DEPLOY_ROOT)/requirements.txt $(DEPLOY_ROOT)/requirements-dev.txt \
		$(DEPLOY_ROOT)/deploy.mk $(wildcard $(DEPLOY_ROOT)/src/cashout_cancel/*.py \
		$(DEPLOY_ROOT)/src/cashout_cancel/*/*.py)
	rm -rf "$(LAMBDA_LOCAL_DIR)"
	$(MAKE) --no-print-directory -f $(DEPLOY_ROOT)/deploy.mk build-CancelCashoutFunction \
		ARTIFACTS_DIR="$(LAMBDA_LOCAL_DIR)/CancelCashoutFunction" LAMBDA_PLATFORMS= \
		BUILD_PYTHON="$(LAMBDA_PYTHON)"
	$(LAMBDA_PYTHON) -m pip install --quiet --disable-pip-version-check --no-compile --no-deps \
		--target "$(LAMBDA_LOCAL_DIR)/runtime" $(RUNTIME_CLIENT_PINS)
	$(LAMBDA_PYTHON) -c 'import sys; print(sys.executable)' > "$@"
