# Quick start: `make up` (the main job) and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
FORMAT ?= yaml
RENDER_DIR ?= rendered

.PHONY: up render render-dir test venv clean bench toolchain toolchain-env cluster cluster-down

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .  # the `multus-cni` command
	touch $@

venv: $(VENV)/.installed

# Test modules run in parallel workers (each live worker starts its own kwok cluster): the live
# suite waits on the engine and the API server more than it computes. On 2 cores (2026-12-02, quiet,
# 2,146 s of tests): 3 workers 12 min 57 s, 4 workers 12 min 24 s. One 4-worker run once saw another
# worker's objects in its cluster: kwokctl gave two clusters created at once the same etcd and API
# server ports (reproduced with two `kwokctl create cluster` at once); cluster/kwok.sh now creates one
# cluster at a time and checks each API server serves its own cluster's objects.
# A fresh clone's `CI=true bash .ci/run` with a warm toolchain on a quiet machine (2026-12-02, 4
# workers, with the shard and audit-ipam modules): `make test` 759 s, the whole run 841 s; the CI
# machine took 1,015 s for that tree. With fleet audit and the killed-ADD fault (2026-12-03): `make
# test` 896 s, the whole run 993 s. With teardowns through the API (no `pulumi destroy`) and the
# language host importing only the SDK's stubs (2026-12-03): `make test` 762 s, the whole run 856 s
# (a rerun: 786 s, 879 s); with GOGC=400 for the suite's Go processes: 746 s, 835 s; a rerun 679 s, 761 s.
# With the killed bulk-path test (2026-12-03): 823 s, 908 s; then with components.kube registering
# objects without importing pulumi_kubernetes' generated classes (0.6 s less per program run): 654 s, 748 s.
# The same machine class runs up to 1.8x slower on some days (stop 36's tree: 907 s on CI); on a fast
# day (2026-12-07, cold toolchain 1,208 s) the tree without the leaf components' register_outputs:
# `make test` 452 s, the whole run 512 s; with the decommission test's race fixed: 447 s, 507 s.
# The suite is CPU-bound on 2 cores (vmstat: ~2% idle); half its CPU is Python (programs, hosts).
# TEST_WORKERS=0: one process.
TEST_WORKERS ?= 4

# With Go, the toolchain parts `make up` did not build come first (a stamp check once built);
# BUILD_TOOLCHAIN=0 skips that, and the live suite then runs only if the toolchain is already built.
BUILD_TOOLCHAIN ?= 1

test: venv  ## unit tests and the live suite (REQUIRE_LIVE=1: it must run; it is skipped without Go)
	@if [ "$(BUILD_TOOLCHAIN)" != 1 ]; then :; elif command -v go >/dev/null 2>&1; then bash toolchain/build.sh; \
	else echo "No Go: the live suite will be skipped (its toolchain is built from Go modules)." >&2; fi
	$(PY) -m pytest -q --durations=25 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

up: venv  ## the real `pulumi up` of $(STACK): your cluster, else the local kwok cluster (YES=1: no prompt; BULK=1: the bulk path)
	@STACK=$(STACK) PY=$(PY) bash scripts/up.sh

render-dir: venv  ## `pulumi up` with the provider writing the manifests to $(RENDER_DIR)/ (stack $(STACK)-render)
	@STACK=$(STACK) PY=$(PY) RENDER_DIR=$(RENDER_DIR) bash scripts/up.sh

render: venv  ## offline, under Pulumi's mocks: what `pulumi up` would create
	@$(VENV)/bin/multus-cni render --stack $(STACK) --format $(FORMAT)

toolchain:  ## build the Pulumi CLI, provider, control plane, kwok and Multus into ~/.cache/multus-cni
	@bash toolchain/build.sh

toolchain-env:  ## eval "$$(make -s toolchain-env)": the built tools on PATH, in any shell
	@bash toolchain/env.sh

cluster:  ## start the local kwok cluster (no-op when it runs); last line: its kubeconfig
	@bash cluster/kwok.sh up

cluster-down:
	@bash cluster/kwok.sh down

clean:
	rm -rf $(VENV) $(RENDER_DIR) .pytest_cache

bench: venv  ## docs/performance.md: config validation, then render time and memory vs plain pulumi_kubernetes
	$(PY) bench/validate_bench.py
	$(PY) bench/render_bench.py

# The real engine against plain pulumi_kubernetes and kubectl (docs/performance.md "Real engine"):
# needs the built toolchain, starts a kwok cluster per program and size, takes up to an hour.
# Not part of `make test` nor CI. ENGINE_SIZES=1,100 ENGINE_REPEAT=3 ENGINE_JSON=out.json to vary.
ENGINE_SIZES ?= 1,100,1000
ENGINE_REPEAT ?= 1
.PHONY: bench-engine
bench-engine: venv
	$(PY) bench/engine_bench.py --sizes $(ENGINE_SIZES) --repeat $(ENGINE_REPEAT) $(if $(ENGINE_JSON),--json $(ENGINE_JSON))
