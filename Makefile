# privatelink-lambdas. Two commands on a fresh machine: `make demo` and `make test`.
# Each installs what it needs (a .venv with the pinned Python tools); Rust comes from rustup.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TEST_TOOLS := $(VENV)/.installed-tests
BUILD_TOOLS := $(VENV)/.installed-tools
# checkov pins its own boto3 and more: it lives in a venv of its own inside .venv.
SCAN_VENV := $(VENV)/scan
SCAN_TOOLS := $(SCAN_VENV)/.installed
# The Python peer `make bench` measures ours against (crhelper + boto3), in its own venv.
PEER_VENV := $(VENV)/peer
PEER_TOOLS := $(PEER_VENV)/.installed
# Lambda architecture of `make build`: x86_64 (default) or arm64 (needs the aarch64 std: rustup target add aarch64-unknown-linux-gnu).
ARCH ?= x86_64
# Deployment (make deploy, deploy-validator, deploy-functions): the AWS CLI and credentials.
STACK ?= privatelink-lambdas
VALIDATOR_STACK ?= privatelink-validator
# An S3 bucket in the Region for the packaged code (aws cloudformation package). Unset: the
# bucket privatelink-lambdas-artifacts-<account>-<region>, made on first use (as `sam deploy
# --resolve-s3` makes one).
BUCKET ?=
# The consumer VPC of deploy-validator.
VPC_ID ?=
SUBNET_IDS ?=
# More `Key=Value` parameters of validator.yaml (Targets, Discover, EgressScope, VpcCidrs, S3PrefixListId...).
VALIDATOR_PARAMS ?=
# More `Key=Value` parameters of functions.yaml (ExportPrefix, PermissionsBoundaryArn...).
FUNCTIONS_PARAMS ?=
# make stackset-upload and connect: a release's buckets <CODE_BUCKET_PREFIX>-<region>, one in each of REGIONS.
CODE_BUCKET_PREFIX ?=
# make publish: the buckets <BUCKET_PREFIX>-<region> a release is uploaded to.
BUCKET_PREFIX ?=
REGIONS ?=
# make connect: the runbook's inputs (SERVICE_NAME, VPC_ID, SUBNET_IDS; optional PRIVATE_DNS_NAME,
# SERVICE_PORT, ALARM_TOPIC_ARN, STACK, and FUNCTIONS_EXPORT_PREFIX for a functions stack already
# deployed). The release comes from CODE_BUCKET_PREFIX when it is published there, else from
# RELEASE (dist/<version>, made by `make release` when missing), uploaded to BUCKET.
SERVICE_NAME ?=
PRIVATE_DNS_NAME ?=
# Left out (as ARCH): 443 (x86_64) on a Create, the stack's own value on an Update.
SERVICE_PORT ?=
ALARM_TOPIC_ARN ?=
FUNCTIONS_EXPORT_PREFIX ?=
POLL_SECONDS ?= 10
# More `Key=Value` parameters of quickstart.yaml (CreateS3GatewayEndpoint=true RouteTableIds=rtb-...),
# split on spaces: a value with a space (CheckSchedule=rate(10 minutes)) goes to tools/connect.py --parameter.
QUICKSTART_PARAMS ?=
# The docs site (make docs, docs-serve): mkdocs-material from docs/requirements.txt, and the
# mermaid the site draws its diagrams with, from the npm registry at a pinned version and digest
# (the theme would fetch it from unpkg.com in the reader's browser; the site carries its own).
DOCS_TOOLS := $(VENV)/.installed-docs
SITE_DIR ?= site
MERMAID_VERSION := 11.17.2
MERMAID_SHA256 := 581ed7d74bd9048d0e3a91363927d72ef22942d7722546b27f7cc29e35390eb8
MERMAID_JS := docs/assets/vendor/mermaid.min.js
# The workspace's version: the one place it is written is Cargo.toml.
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
RELEASE ?= dist/$(VERSION)
# The stack of `make connect`: STACK when given, else one named for the service.
CONNECT_STACK := $(if $(filter file,$(origin STACK)),,$(STACK))
# ARCH as `make connect` passes it: only when given (the Makefile's own default is for builds).
CONNECT_ARCH := $(if $(filter file,$(origin ARCH)),,$(ARCH))
FUNCTIONS := privatelink-security-group privatelink-endpoint privatelink-acceptance-waiter privatelink-validator
# deploy-functions: each function of the stacks, as <logical id in its template>=<binary>
# (tests/test_deploy_functions.py checks them against the templates). FUNCTIONS_STACK: the stack
# of templates/functions.yaml (a quick start's is its nested `Functions` stack).
STACK_FUNCTIONS := SecurityGroupFunction=privatelink-security-group EndpointFunction=privatelink-endpoint WaiterFunction=privatelink-acceptance-waiter
VALIDATOR_FUNCTIONS := Validator=privatelink-validator
FUNCTIONS_STACK ?= $(STACK)

.PHONY: test test-tools test-build test-checks lint lint-templates unit integration suite demo build bench bench-ci deploy deploy-validator deploy-functions stackset stackset-upload \
	release publish connect docs docs-serve clean

# The venv, made once (both tool sets install into it; made here, `make -j` can't race on it).
$(PY):
	$(PYTHON) -m venv $(VENV)

$(TEST_TOOLS): tests/requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

$(SCAN_TOOLS): tools/scan-requirements.txt
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/scan-requirements.txt
	touch $@

# What building and deploying need (cargo-lambda, boto3 for stackset-upload), never the test tools.
$(BUILD_TOOLS): tools/requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

# The artifacts bucket of the deploy targets, in the shell variable `bucket`: BUCKET, or one
# named for the account and Region, made when missing (private: S3 blocks public access and
# encrypts new buckets by default). The name can be guessed, so a bucket of that name is used
# only when this account owns it (--expected-bucket-owner): code is never read from another's.
define resolve_bucket
bucket="$(BUCKET)"; \
if [ -z "$$bucket" ]; then \
	account=$$(aws sts get-caller-identity --query Account --output text) || exit 1; \
	region=$${AWS_REGION:-$${AWS_DEFAULT_REGION:-$$(aws configure get region)}}; \
	[ -n "$$region" ] || { echo "no AWS Region: set AWS_REGION (or BUCKET)" >&2; exit 2; }; \
	bucket="privatelink-lambdas-artifacts-$$account-$$region"; \
	aws s3api head-bucket --bucket "$$bucket" --expected-bucket-owner "$$account" 2>/dev/null || \
		aws s3 mb "s3://$$bucket" --region "$$region" || exit 1; \
	echo "artifacts bucket: $$bucket"; \
fi
endef

$(DOCS_TOOLS): docs/requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r docs/requirements.txt
	touch $@

$(MERMAID_JS):
	mkdir -p target/docs-vendor $(dir $@)
	cd target/docs-vendor && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null
	tar -xzf target/docs-vendor/mermaid-$(MERMAID_VERSION).tgz -O package/dist/mermaid.min.js > $@.part
	echo "$(MERMAID_SHA256)  $@.part" | sha256sum --check --quiet
	mv $@.part $@

## docs: the documentation site, built strict (a broken link or a warning fails) into SITE_DIR
docs: $(DOCS_TOOLS) $(MERMAID_JS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir $(abspath $(SITE_DIR))

## docs-serve: the site at http://127.0.0.1:8000, rebuilt as its pages change
docs-serve: $(DOCS_TOOLS) $(MERMAID_JS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict --dev-addr 127.0.0.1:8000

## test: formatting, clippy, unit tests, then the black-box tests on the emulator
# One build of the dependencies serves the lint, the unit tests and the binaries the black-box
# tests run: clippy is the compiler of the workspace's own crates (RUSTC_WORKSPACE_WRAPPER, as
# `cargo clippy` runs it, but building where `cargo clippy` only checks, which would compile every
# dependency a second time as metadata), and no dev-dependency turns on a feature of a shared
# crate. CLIPPY_ARGS is how cargo-clippy hands clippy-driver its flags (here `-D warnings`).
# `make bench-ci` measures it against one clean `cargo build --workspace`.
CLIPPY_BUILD := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# The black-box suite's pytest-xdist workers, each with an emulator of its own (tests/conftest.py);
# the tests that judge every call the suite made (IAM contracts) run after them, over the
# journals each worker's emulator left in target/test-journal. Most tests wait on emulated AWS
# (six workers kept two cores 83% busy, four 64%); worksteal hands a finished worker the waiting
# tests of a busy one, so the slowest (the takeovers, 30-45 s) don't end the run alone.
TEST_WORKERS ?= 6
# `make test`, in three steps:
# 1. rustfmt, then the Python tools (mostly downloads and unpacking) installed while the binaries
#    the black-box tests run are built;
# 2. the black-box suite, and beside it what leaves those binaries alone: the templates' scanners
#    and the unit tests (the test targets built with clippy), in the cores the suite leaves idle.
test:
	cargo fmt --all -- --check
	$(MAKE) --no-print-directory -j2 test-tools test-build
	$(MAKE) --no-print-directory -j2 suite test-checks

# One pip at a time: the tool sets share .venv.
test-tools:
	$(MAKE) --no-print-directory -j1 $(TEST_TOOLS) $(BUILD_TOOLS) $(DOCS_TOOLS) $(MERMAID_JS)

# The static command line's build (lint of its feature) first: it leaves its own
# target/debug/privatelink-validator, which the workspace's build then puts back.
test-build:
	$(CLIPPY_BUILD) cargo build -p privatelink-validator --features static-cli
	$(CLIPPY_BUILD) cargo build --workspace

# Beside the suite: nothing here builds a binary the suite runs (`cargo test` builds the test
# targets, and a package's binaries only for its integration tests: the core has none).
test-checks: lint-templates
	$(CLIPPY_BUILD) cargo test --workspace

## lint: rustfmt, clippy, then the templates: cfn-lint (with its informational checks and the
## serverless rules) and checkov, offline, and the workflows (against their schema). Each suppression
## carries its reason in the template.
lint: lint-templates
	cargo fmt --all -- --check
	$(CLIPPY_BUILD) cargo build -p privatelink-validator --features static-cli
	$(CLIPPY_BUILD) cargo build --workspace --all-targets

lint-templates: $(TEST_TOOLS) $(SCAN_TOOLS)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/cfn-lint --include-checks I -a cfn_lint_serverless.rules -- templates/*.yaml
	BC_SKIP_MAPPING=TRUE $(SCAN_VENV)/bin/checkov -d templates --framework cloudformation \
		--compact --quiet --skip-download

unit:
	$(CLIPPY_BUILD) cargo test --workspace

# cargo-lambda (tools/requirements.txt): the local loop's test runs `cargo lambda watch`.
# The docs' browser test (tests/test_docs.py) builds the site with `make docs`.
integration:
	$(CLIPPY_BUILD) cargo build --workspace
	$(MAKE) --no-print-directory suite

suite: $(TEST_TOOLS) $(BUILD_TOOLS) $(DOCS_TOOLS) $(MERMAID_JS)
	rm -rf target/test-journal
	PRIVATELINK_JOURNAL_DIR=$(CURDIR)/target/test-journal $(CLIPPY_BUILD) $(PY) -m pytest tests -q \
		-n $(TEST_WORKERS) --dist worksteal
	PRIVATELINK_JOURNAL_DIR=$(CURDIR)/target/test-journal $(PY) -m pytest tests -q -m after_the_suite

## demo: the functions serving CloudFormation events on the embedded AWS emulator
demo: $(TEST_TOOLS)
	cargo build --workspace
	$(PY) -m tests.demo

## build: the deployable bootstrap zips in target/lambda/<function>/bootstrap.zip
build: $(BUILD_TOOLS)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --output-format zip \
		$(if $(filter arm64,$(ARCH)),--arm64,--x86-64)
	$(PY) tools/check_binaries.py $(foreach f,$(FUNCTIONS),target/lambda/$(f)/bootstrap.zip)

## bench: cold start, memory, size, EC2 calls and fan-out of the release builds, against the budget
$(PEER_TOOLS): tests/bench/peer/requirements.txt
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/bench/peer/requirements.txt
	touch $@

bench: $(TEST_TOOLS) $(BUILD_TOOLS) $(PEER_TOOLS)
	$(PY) -m tests.bench.run

## bench-ci: a clean clone's `make test` against a clean clone's `cargo build --workspace`, side by
## side (about half an hour here; make bench prints the latest)
bench-ci:
	$(PYTHON) -m tests.bench.ci

## deploy: package and deploy the functions stack (once per account and Region)
deploy: build
	@$(resolve_bucket); \
	aws cloudformation package --template-file templates/functions.yaml --s3-bucket "$$bucket" \
		--output-template-file target/functions.packaged.yaml
	aws cloudformation deploy --template-file target/functions.packaged.yaml --stack-name $(STACK) \
		--capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
		--parameter-overrides Architecture=$(ARCH) $(FUNCTIONS_PARAMS)

## deploy-validator: the validator inside one consumer VPC
deploy-validator: build
	@test -n "$(VPC_ID)" -a -n "$(SUBNET_IDS)" || \
		{ echo "set VPC_ID and SUBNET_IDS (comma-separated)" >&2; exit 2; }
	@$(resolve_bucket); \
	aws cloudformation package --template-file templates/validator.yaml --s3-bucket "$$bucket" \
		--output-template-file target/validator.packaged.yaml
	aws cloudformation deploy --template-file target/validator.packaged.yaml --stack-name $(VALIDATOR_STACK) \
		--capabilities CAPABILITY_IAM --no-fail-on-empty-changeset --parameter-overrides VpcId=$(VPC_ID) \
		SubnetIds=$(SUBNET_IDS) Architecture=$(ARCH) $(VALIDATOR_PARAMS)

## stackset: a release (make release) is what a StackSet deploys: its templates read the code from
## <CodeBucketPrefix>-<Region> in each Region; stackset-upload fills those buckets (make publish)
stackset: release

stackset-upload: stackset
	@test -n "$(CODE_BUCKET_PREFIX)" -a -n "$(REGIONS)" || \
		{ echo "set CODE_BUCKET_PREFIX and REGIONS (comma-separated)" >&2; exit 2; }
	$(MAKE) publish BUCKET_PREFIX=$(CODE_BUCKET_PREFIX) REGIONS=$(REGIONS)

## release: dist/<version>/ (each function's zip per architecture built here: x86_64, and arm64
## where its Rust target is installed; the templates reading code from a bucket; the validator's
## command line statically linked, for any x86_64 Linux; SHA256SUMS)
# The command line of a release: glibc linked in (crt-static), and the AWS APIs' names resolved by
# hickory rather than getaddrinfo (feature static-cli), which a static glibc can't serve.
STATIC_CLI := target/static/x86_64-unknown-linux-gnu/release/privatelink-validator
release: $(BUILD_TOOLS)
	rm -rf target/release-lambda
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --output-format zip --x86-64 \
		--lambda-dir target/release-lambda/x86_64
	$(PY) tools/check_binaries.py $(foreach f,$(FUNCTIONS),target/release-lambda/x86_64/$(f)/bootstrap.zip)
	if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then \
		PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --output-format zip --arm64 \
			--lambda-dir target/release-lambda/arm64 || exit 1; \
	fi
	RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p privatelink-validator \
		--features static-cli --target x86_64-unknown-linux-gnu --target-dir target/static
	$(PY) tools/check_binaries.py --static $(STATIC_CLI)
	$(STATIC_CLI) --version
	dirs=""; for arch in x86_64 arm64; do \
		if [ -d target/release-lambda/$$arch ]; then dirs="$$dirs --lambda-dir $$arch=target/release-lambda/$$arch"; fi; \
	done; $(PY) tools/release.py build --cli $(STATIC_CLI) $$dirs
	cd dist/$(VERSION) && sha256sum -c --quiet SHA256SUMS

## publish: upload dist/<version>/ to <BUCKET_PREFIX>-<region> for each of REGIONS (buckets must exist)
publish: $(BUILD_TOOLS)
	@test -n "$(BUCKET_PREFIX)" -a -n "$(REGIONS)" || \
		{ echo "set BUCKET_PREFIX and REGIONS (comma-separated)" >&2; exit 2; }
	@test -f $(RELEASE)/SHA256SUMS || { echo "no release at $(RELEASE): make release" >&2; exit 2; }
	cd $(RELEASE) && sha256sum -c --quiet SHA256SUMS
	$(PY) tools/release.py publish --release $(RELEASE) --bucket-prefix $(BUCKET_PREFIX) --regions $(REGIONS)

## connect: the runbook in one stack (templates/quickstart.yaml) from SERVICE_NAME, VPC_ID and
## SUBNET_IDS: prints the endpoint id to give the partner, follows the stack to its end
connect: $(BUILD_TOOLS)
	@test -n "$(SERVICE_NAME)" -a -n "$(VPC_ID)" -a -n "$(SUBNET_IDS)" || \
		{ echo "set SERVICE_NAME, VPC_ID and SUBNET_IDS (comma-separated)" >&2; exit 2; }
	@if [ -z "$(CODE_BUCKET_PREFIX)" ] && [ ! -f $(RELEASE)/SHA256SUMS ]; then $(MAKE) release || exit 1; fi
	$(PY) tools/connect.py --service-name "$(SERVICE_NAME)" --vpc-id "$(VPC_ID)" --subnet-ids "$(SUBNET_IDS)" \
		--private-dns-name "$(PRIVATE_DNS_NAME)" --service-port "$(SERVICE_PORT)" \
		--alarm-topic-arn "$(ALARM_TOPIC_ARN)" --stack "$(CONNECT_STACK)" --bucket "$(BUCKET)" \
		--code-bucket-prefix "$(CODE_BUCKET_PREFIX)" --release "$(RELEASE)" \
		--functions-export-prefix "$(FUNCTIONS_EXPORT_PREFIX)" --architecture "$(CONNECT_ARCH)" --poll-seconds $(POLL_SECONDS) \
		$(foreach p,$(QUICKSTART_PARAMS),--parameter "$(p)")

## deploy-functions: the inner loop: cargo lambda deploy the code of the functions the stacks
## made (FUNCTIONS_STACK, and VALIDATOR_STACK when it exists), by their names; what the stacks
## configured (environment, VPC, role, timeouts) stays as it is
define deploy_stack_functions
for pair in $(2); do \
	name=$$(aws cloudformation describe-stack-resource --stack-name "$(1)" --logical-resource-id "$${pair%%=*}" \
		--query StackResourceDetail.PhysicalResourceId --output text) || exit 1; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda deploy --binary-name "$${pair#*=}" "$$name" || exit 1; \
done
endef

deploy-functions: build
	$(call deploy_stack_functions,$(FUNCTIONS_STACK),$(STACK_FUNCTIONS))
	@if aws cloudformation describe-stacks --stack-name "$(VALIDATOR_STACK)" >/dev/null 2>&1; then \
		$(call deploy_stack_functions,$(VALIDATOR_STACK),$(VALIDATOR_FUNCTIONS)); \
	else echo "no stack $(VALIDATOR_STACK): the validator's code is not deployed"; fi

clean:
	cargo clean
	rm -rf $(VENV) .pytest_cache site $(MERMAID_JS)
