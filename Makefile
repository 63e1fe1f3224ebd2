# ecs-canary — see README.md.
#
#   make test            everything: format, lints, unit and property tests, emulator tests
#   make demo            the whole canary flow on the local emulator
#   make bench           size, start-up, first-invoke latency and memory of each function
#   make emulator        start the local AWS emulator in the background (prints its environment)
#   make emulator-stop   stop it

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV          := .venv
PYTHON        := $(VENV)/bin/python
VENV_STAMP    := $(VENV)/.installed
EMULATOR_DIR  := .emulator
EMULATOR_PORT ?= 4566
EMULATOR_HOST ?= 127.0.0.1
# Where the emulator sends Lambda invocations; empty: `cargo lambda watch` of this workspace.
LAMBDA_ENDPOINT ?=
AWS_REGION    ?= us-east-1
CARGO         ?= cargo

.PHONY: help venv bench browser-deps build build-functions lint lint-infra check-emulator test test-unit test-e2e emulator emulator-stop demo clean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# --- toolchain -------------------------------------------------------------

# A project-local virtualenv with the pinned emulator and cargo-lambda.
venv: $(VENV_STAMP)

$(VENV_STAMP): tests/emulator/requirements.txt tests/emulator/requirements-nodeps.txt
	@command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
	@test -x $(PYTHON) || python3 -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(PYTHON) -m pip install -q --disable-pip-version-check -r tests/emulator/requirements.txt
	$(PYTHON) -m pip install -q --disable-pip-version-check --no-deps -r tests/emulator/requirements-nodeps.txt
	@touch $@

build:
	$(CARGO) build --workspace --all-targets

# Headless Chromium and ChromeDriver (Debian's packages) for the browser test.
browser-deps:
	@command -v chromedriver >/dev/null && command -v chromium >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# --- checks ----------------------------------------------------------------

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-unit:
	$(CARGO) test -p ecs-canary-core -p ecs-canary-aws

check-emulator: venv
	$(PYTHON) -m py_compile tests/emulator/*.py

# The deployable template strictly; the article's example keeps its explicit DependsOn.
lint-infra: venv
	$(VENV)/bin/cfn-lint infra/ecs-canary.yaml
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- infra/examples/network.json infra/examples/app.json

test-e2e: check-emulator browser-deps
	$(CARGO) test -p ecs-canary-e2e

# One cargo invocation, so that the workspace is compiled once.
test: lint lint-infra check-emulator browser-deps
	$(CARGO) test --workspace

# --- benchmarks --------------------------------------------------------------

# Size, start-up time, first-invoke latency and peak memory of each release
# function binary, against the local emulator.
bench: venv
	$(CARGO) build --release $(addprefix -p ,$(FUNCTIONS))
	$(CARGO) run --quiet -p ecs-canary-e2e --bin bench-functions
	$(CARGO) run --quiet -p ecs-canary-e2e --bin bench-flow

# --- local AWS emulator ----------------------------------------------------

FUNCTIONS     := resolve-stable render-and-deploy set-weights promote rollback request-approval approval-api ecr-trigger
FUNCTIONS_PORT ?= 9000
LOCK_TABLE    ?= ecs-canary-locks
APPROVALS_TABLE ?= ecs-canary-approvals
# Optional, for a real Slack workspace: an incoming webhook and the app's signing secret.
SLACK_WEBHOOK_URL ?=
SLACK_SIGNING_SECRET ?=

build-functions:
	$(CARGO) build $(addprefix -p ,$(FUNCTIONS))

# The emulator, with `cargo lambda watch` serving the function binaries and the
# tables and the approval topic created. LAMBDA_ENDPOINT=… routes invocations elsewhere instead.
emulator: venv $(if $(LAMBDA_ENDPOINT),,build-functions)
	@mkdir -p $(EMULATOR_DIR)
	@if [ -f $(EMULATOR_DIR)/pid ] && kill -0 "$$(cat $(EMULATOR_DIR)/pid)" 2>/dev/null; then \
		echo "the emulator is already running (pid $$(cat $(EMULATOR_DIR)/pid)); make emulator-stop first" >&2; exit 1; fi
ifeq ($(LAMBDA_ENDPOINT),)
	@setsid $(VENV)/bin/cargo-lambda lambda watch --ignore-changes --quiet \
		-A $(EMULATOR_HOST) -P $(FUNCTIONS_PORT) \
		--env-var AWS_ENDPOINT_URL=http://$(EMULATOR_HOST):$(EMULATOR_PORT) --env-var AWS_REGION=$(AWS_REGION) \
		--env-var AWS_ACCESS_KEY_ID=testing --env-var AWS_SECRET_ACCESS_KEY=testing \
		--env-var ECS_CANARY_LOCK_TABLE=$(LOCK_TABLE) --env-var ECS_CANARY_APPROVALS_TABLE=$(APPROVALS_TABLE) \
		--env-var ECS_CANARY_APPROVAL_URL=http://$(EMULATOR_HOST):$(FUNCTIONS_PORT)/lambda-url/approval-api \
		--env-var ECS_CANARY_TOPIC_ARN=arn:aws:sns:$(AWS_REGION):123456789012:ecs-canary-approvals \
		$(if $(SLACK_WEBHOOK_URL),--env-var ECS_CANARY_SLACK_WEBHOOK_URL=$(SLACK_WEBHOOK_URL)) \
		$(if $(SLACK_SIGNING_SECRET),--env-var ECS_CANARY_SLACK_SIGNING_SECRET=$(SLACK_SIGNING_SECRET)) \
		--env-var RUST_LOG=info \
		> $(EMULATOR_DIR)/functions.log 2>&1 < /dev/null & echo $$! > $(EMULATOR_DIR)/functions.pid
	@for _ in $$(seq 1 300); do (exec 3<>/dev/tcp/$(EMULATOR_HOST)/$(FUNCTIONS_PORT)) 2>/dev/null && break; sleep 0.1; done
	@(exec 3<>/dev/tcp/$(EMULATOR_HOST)/$(FUNCTIONS_PORT)) 2>/dev/null || { cat $(EMULATOR_DIR)/functions.log >&2; exit 1; }
endif
	@nohup $(PYTHON) tests/emulator/launcher.py --host $(EMULATOR_HOST) --port $(EMULATOR_PORT) \
		--lambda-endpoint $(or $(LAMBDA_ENDPOINT),http://$(EMULATOR_HOST):$(FUNCTIONS_PORT)) \
		> $(EMULATOR_DIR)/emulator.out 2> $(EMULATOR_DIR)/emulator.log < /dev/null & echo $$! > $(EMULATOR_DIR)/pid
	@for _ in $$(seq 1 300); do \
		grep -q '^ready ' $(EMULATOR_DIR)/emulator.out 2>/dev/null && break; \
		kill -0 "$$(cat $(EMULATOR_DIR)/pid)" 2>/dev/null || { cat $(EMULATOR_DIR)/emulator.log >&2; rm -f $(EMULATOR_DIR)/pid; exit 1; }; \
		sleep 0.1; done
	@grep -q '^ready ' $(EMULATOR_DIR)/emulator.out || { echo "the emulator did not start; see $(EMULATOR_DIR)/emulator.log" >&2; exit 1; }
	@AWS_ENDPOINT_URL=http://$(EMULATOR_HOST):$(EMULATOR_PORT) AWS_REGION=$(AWS_REGION) \
		ECS_CANARY_LOCK_TABLE=$(LOCK_TABLE) ECS_CANARY_APPROVALS_TABLE=$(APPROVALS_TABLE) \
		$(PYTHON) tests/emulator/local_resources.py > /dev/null
	@echo "# the local AWS emulator is running (pid $$(cat $(EMULATOR_DIR)/pid), log $(EMULATOR_DIR)/emulator.log)"
	@echo "# Lambda invocations go to $(or $(LAMBDA_ENDPOINT),cargo lambda watch on port $(FUNCTIONS_PORT) (log $(EMULATOR_DIR)/functions.log))"
	@echo "export AWS_ENDPOINT_URL=http://$(EMULATOR_HOST):$(EMULATOR_PORT)"
	@echo "export AWS_REGION=$(AWS_REGION)"
	@echo "export AWS_ACCESS_KEY_ID=testing"
	@echo "export AWS_SECRET_ACCESS_KEY=testing"

emulator-stop:
	@if [ -f $(EMULATOR_DIR)/functions.pid ]; then \
		pid=$$(cat $(EMULATOR_DIR)/functions.pid); \
		kill -TERM -- "-$$pid" 2>/dev/null && echo "stopped cargo lambda watch (pid $$pid)"; \
		rm -f $(EMULATOR_DIR)/functions.pid; fi
	@if [ -f $(EMULATOR_DIR)/pid ]; then \
		pid=$$(cat $(EMULATOR_DIR)/pid); \
		if kill "$$pid" 2>/dev/null; then \
			for _ in $$(seq 1 50); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
			echo "stopped the emulator (pid $$pid)"; \
		else echo "the emulator (pid $$pid) was not running"; fi; \
		rm -f $(EMULATOR_DIR)/pid; \
	else echo "no emulator started by make emulator"; fi

# --- the canary flow ---------------------------------------------------------

# The whole flow on the local emulator; DEMO_INTERACTIVE=1 waits for you to
# approve or reject each step in a browser.
demo: venv
	$(CARGO) run --quiet -p ecs-canary-e2e --bin demo

clean: emulator-stop
	$(CARGO) clean
	rm -rf $(VENV) $(EMULATOR_DIR)
