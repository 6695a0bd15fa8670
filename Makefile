# Quick start: `make up` (the main job) and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
FORMAT ?= yaml
RENDER_DIR := rendered

.PHONY: up render test venv clean bench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q

render: venv
	@$(PY) -m components render --stack $(STACK) --format $(FORMAT)

up: venv
	@STACK=$(STACK) RENDER_DIR=$(RENDER_DIR) PY=$(PY) bash scripts/up.sh

clean:
	rm -rf $(VENV) $(RENDER_DIR) .pytest_cache

bench: venv  ## README "Performance": config validation, then render time and memory vs plain pulumi_kubernetes
	$(PY) bench/validate_bench.py
	$(PY) bench/render_bench.py
