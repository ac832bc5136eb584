# privatelink-lambdas. Two commands on a fresh machine: `make demo` and `make test`.
# Each installs what it needs (a .venv with the pinned Python tools); Rust comes from rustup.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TEST_TOOLS := $(VENV)/.installed-tests
BUILD_TOOLS := $(VENV)/.installed-tools
# Lambda architecture of `make build`: x86_64 (default) or arm64 (needs the aarch64 std: rustup target add aarch64-unknown-linux-gnu).
ARCH ?= x86_64

.PHONY: test lint unit integration demo build clean

$(TEST_TOOLS): tests/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

$(BUILD_TOOLS): tools/requirements.txt $(TEST_TOOLS)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

## test: formatting, clippy, unit tests, then the black-box tests on the emulator
test: lint unit integration

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace

integration: $(TEST_TOOLS)
	cargo build --workspace
	$(PY) -m pytest tests -q

## demo: the functions serving CloudFormation events on the embedded AWS emulator
demo: $(TEST_TOOLS)
	cargo build --workspace
	$(PY) -m tests.demo

## build: the deployable bootstrap zips in target/lambda/<function>/bootstrap.zip
build: $(BUILD_TOOLS)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --output-format zip \
		$(if $(filter arm64,$(ARCH)),--arm64,--x86-64)

clean:
	cargo clean
	rm -rf $(VENV) .pytest_cache
