# contact-sync: the two set-up commands are `make demo` and `make test` (README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help test lint fmt venv

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

venv: ## create/update the repo-local Python virtualenv (.venv)
	@infra/scripts/venv.sh

test: ## run every test (starts its own moto server and Google emulators)
	@infra/scripts/test.sh

lint: venv ## rustfmt, clippy (warnings are errors), supply chain (cargo-deny, no rsa in functions), cfn-lint, sam validate
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@infra/scripts/supply-chain.sh
	.venv/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 .venv/bin/sam validate --lint --region us-east-1 --template-file template.yaml

fmt: ## format the code
	cargo fmt --all

.PHONY: build deploy

build: ## arm64 Lambda binaries (cargo-lambda + zig from .venv) and the SAM build in target/sam
	@infra/scripts/build.sh

deploy: build ## sam deploy --guided of target/sam (asks for the stack name, region and parameters; docs/deploy.md)
	SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/sam deploy --guided --template-file target/sam/template.yaml

.PHONY: local demo

local: venv ## the stack on this machine: moto, Google emulator, the API on 127.0.0.1:$API_PORT (docs/local.md)
	@infra/scripts/local.sh

demo: venv ## the sample scenario end to end through the API, on free ports, every step checked (docs/local.md)
	@infra/scripts/demo.sh

.PHONY: bench

bench: ## release benchmarks (executor vs emulator + moto, binary sizes, start-up); BENCH_ARGS=--quick for a short run
	@infra/scripts/bench.sh $(BENCH_ARGS)
