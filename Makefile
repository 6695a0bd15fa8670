# Quick start: `make up` (the main job) and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
FORMAT ?= yaml
RENDER_DIR ?= rendered

.PHONY: up render render-dir test venv clean bench toolchain toolchain-env cluster cluster-down

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

test: venv  ## unit tests, plus the live suite when the toolchain is built (REQUIRE_LIVE=1: it must run)
	$(PY) -m pytest -q

up: venv  ## the real `pulumi up` of $(STACK): your cluster, else the local kwok cluster (YES=1: no prompt)
	@STACK=$(STACK) PY=$(PY) bash scripts/up.sh

render-dir: venv  ## `pulumi up` with the provider writing the manifests to $(RENDER_DIR)/ (stack $(STACK)-render)
	@STACK=$(STACK) PY=$(PY) RENDER_DIR=$(RENDER_DIR) bash scripts/up.sh

render: venv  ## offline, under Pulumi's mocks: what `pulumi up` would create
	@$(PY) -m components render --stack $(STACK) --format $(FORMAT)

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

bench: venv  ## README "Performance": config validation, then render time and memory vs plain pulumi_kubernetes
	$(PY) bench/validate_bench.py
	$(PY) bench/render_bench.py
