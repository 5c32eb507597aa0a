# Watchkeeper: `make demo` runs the main job, `make test` runs the tests. Both set everything up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
# pytest-xdist workers for the main suite (each test file runs whole on one worker)
TEST_WORKERS ?= 2
PY := $(VENV)/bin/python
export WATCHKEEPER_HOME ?= $(CURDIR)/.watchkeeper
export UV_NATIVE_TLS ?= 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install demo test test-deploy lint typecheck bench bench-peers validate clean airflow airflow-celery browser

# Bytecode is compiled at install time (site-packages and src): where PYTHONDONTWRITEBYTECODE=1 is set, as on
# our CI machines and in many Docker images, Python never caches it, and every task process would pay the
# compilation of Airflow, pandas and GX again (import airflow.sdk: 3.5 s CPU without, 1.7 s with).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q uv==0.13.8 || true
	if [ -x $(VENV)/bin/uv ]; then \
	  $(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -c constraints.txt -e '.[dev]'; \
	else \
	  $(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]'; \
	fi
	$(PY) -m compileall -q -j 0 src >/dev/null
	# an editable build may leave src/watchkeeper.egg-info behind: a second distribution would register the
	# Airflow plugin twice ("1 Plugin Import Error" on Airflow's home page)
	rm -rf src/*.egg-info
	touch $@

install: $(VENV)/.installed ## create .venv and install pinned dependencies

demo: install ## the main job: demo model through real Airflow, then a summary
	$(PY) -m watchkeeper.demo.run

browser: ## Debian's Chromium for the end-to-end UI test (Playwright drives it; no browser download)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }

test: install browser ## lint, types, then every test: unit, store (SQLite + PostgreSQL), real Airflow, browser, Celery deployment
	$(VENV)/bin/ruff check src tests dags benchmarks deploy
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --ignore=tests/integration/test_celery_deployment.py
	$(MAKE) --no-print-directory test-deploy

test-deploy: install ## the distributed deployment under failure: Celery workers killed, scheduler/broker restarts, store outage
	@command -v redis-server >/dev/null 2>&1 || { apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
	$(PY) -m pytest -q tests/integration/test_celery_deployment.py

airflow: install ## airflow standalone with the demo models and a month of history (http://localhost:8080)
	$(PY) -m watchkeeper.demo.standalone

airflow-celery: install ## a distributed Airflow: PostgreSQL, Redis broker, CeleryExecutor, 2 workers (docs/deployment.md)
	$(PY) deploy/celery/launch.py up

lint: install
	$(VENV)/bin/ruff check src tests dags benchmarks
	$(VENV)/bin/mypy

validate: install
	$(VENV)/bin/watchkeeper validate dags/models

bench: install
	$(PY) benchmarks/bench_drift.py
	$(PY) benchmarks/bench_parse.py
	$(PY) benchmarks/bench_degradation.py
	$(PY) benchmarks/bench_estimation.py
	$(PY) benchmarks/bench_ui.py
	$(PY) benchmarks/bench_read.py --hourly --check
	$(PY) benchmarks/bench_check.py --rows 1000000 5000000 20000000
	$(PY) benchmarks/bench_dag_run.py
	$(PY) benchmarks/bench_celery.py --models 60 --families-every 1
	$(PY) benchmarks/bench_celery.py --models 60 --families-every 0

bench-peers: install ## Watchkeeper beside NannyML and Evidently (each in its own virtualenv) on the same window
	bash benchmarks/peers/build.sh
	$(PY) benchmarks/peers/bench_peers.py

clean:
	rm -rf $(VENV) .watchkeeper
