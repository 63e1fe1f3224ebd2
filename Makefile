# ecs-canary — see README.md.
#
#   make test            everything: format, lints, unit and property tests, emulator tests
#   make demo            the whole canary flow on the local emulator
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
# Where the emulator sends Lambda invocations (e.g. `cargo lambda watch`); empty: none.
LAMBDA_ENDPOINT ?=
AWS_REGION    ?= us-east-1
CARGO         ?= cargo

.PHONY: help venv build lint check-emulator test test-unit test-e2e emulator emulator-stop demo clean

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

# --- checks ----------------------------------------------------------------

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-unit:
	$(CARGO) test -p ecs-canary-core -p ecs-canary-aws

check-emulator: venv
	$(PYTHON) -m py_compile tests/emulator/launcher.py tests/emulator/ecs_canary_moto_plugin.py

test-e2e: check-emulator
	$(CARGO) test -p ecs-canary-e2e

# One cargo invocation, so that the workspace is compiled once.
test: lint check-emulator
	$(CARGO) test --workspace

# --- local AWS emulator ----------------------------------------------------

emulator: venv
	@mkdir -p $(EMULATOR_DIR)
	@if [ -f $(EMULATOR_DIR)/pid ] && kill -0 "$$(cat $(EMULATOR_DIR)/pid)" 2>/dev/null; then \
		echo "the emulator is already running (pid $$(cat $(EMULATOR_DIR)/pid)); make emulator-stop first" >&2; exit 1; fi
	@nohup $(PYTHON) tests/emulator/launcher.py --host $(EMULATOR_HOST) --port $(EMULATOR_PORT) \
		$(if $(LAMBDA_ENDPOINT),--lambda-endpoint $(LAMBDA_ENDPOINT)) \
		> $(EMULATOR_DIR)/emulator.out 2> $(EMULATOR_DIR)/emulator.log < /dev/null & echo $$! > $(EMULATOR_DIR)/pid
	@for _ in $$(seq 1 300); do \
		grep -q '^ready ' $(EMULATOR_DIR)/emulator.out 2>/dev/null && break; \
		kill -0 "$$(cat $(EMULATOR_DIR)/pid)" 2>/dev/null || { cat $(EMULATOR_DIR)/emulator.log >&2; rm -f $(EMULATOR_DIR)/pid; exit 1; }; \
		sleep 0.1; done
	@grep -q '^ready ' $(EMULATOR_DIR)/emulator.out || { echo "the emulator did not start; see $(EMULATOR_DIR)/emulator.log" >&2; exit 1; }
	@echo "# the local AWS emulator is running (pid $$(cat $(EMULATOR_DIR)/pid), log $(EMULATOR_DIR)/emulator.log)"
	@echo "export AWS_ENDPOINT_URL=http://$(EMULATOR_HOST):$(EMULATOR_PORT)"
	@echo "export AWS_REGION=$(AWS_REGION)"
	@echo "export AWS_ACCESS_KEY_ID=testing"
	@echo "export AWS_SECRET_ACCESS_KEY=testing"

emulator-stop:
	@if [ -f $(EMULATOR_DIR)/pid ]; then \
		pid=$$(cat $(EMULATOR_DIR)/pid); \
		if kill "$$pid" 2>/dev/null; then \
			for _ in $$(seq 1 50); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
			echo "stopped the emulator (pid $$pid)"; \
		else echo "the emulator (pid $$pid) was not running"; fi; \
		rm -f $(EMULATOR_DIR)/pid; \
	else echo "no emulator started by make emulator"; fi

# --- the canary flow ---------------------------------------------------------

demo:
	@echo "make demo is not there yet: the functions and the state machine come next." >&2
	@echo "Meanwhile: make test, or make emulator and the README's walk-through." >&2
	@exit 2

clean: emulator-stop
	$(CARGO) clean
	rm -rf $(VENV) $(EMULATOR_DIR)
