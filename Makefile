# Watchkeeper: `make demo` runs the main job, `make test` runs the tests. Both set everything up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export WATCHKEEPER_HOME ?= $(CURDIR)/.watchkeeper
export UV_NATIVE_TLS ?= 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install demo test lint typecheck bench validate clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q uv==0.13.8 || true
	if [ -x $(VENV)/bin/uv ]; then \
	  $(VENV)/bin/uv pip install -q --python $(PY) -c constraints.txt -e '.[dev]'; \
	else \
	  $(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]'; \
	fi
	touch $@

install: $(VENV)/.installed ## create .venv and install pinned dependencies

demo: install ## the main job: demo model through real Airflow, then a summary
	$(PY) -m watchkeeper.demo.run

test: install ## lint, types, then every test: unit, store (SQLite + PostgreSQL), real Airflow runs
	$(VENV)/bin/ruff check src tests dags benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests dags benchmarks
	$(VENV)/bin/mypy

validate: install
	$(VENV)/bin/watchkeeper validate dags/models

bench: install
	$(PY) benchmarks/bench_drift.py
	$(PY) benchmarks/bench_parse.py

clean:
	rm -rf $(VENV) .watchkeeper
