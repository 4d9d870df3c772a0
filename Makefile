# bantay: two commands for a newcomer (`make demo`, `make test`), a few for the rest of us.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: reliability venv demo stop test test-unit test-browser test-spark test-celery test-infra lint format airflow bench bench-crossover eval-drift eval-drift-quick eval-paired eval-paired-quick eval-experiment eval-experiment-quick clean

$(BIN)/bantay: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(BIN)/bantay

venv: $(BIN)/bantay

# Optional extras for the scale-out tiers, installed on top of the dev venv (one stamp each).
$(VENV)/.extra-%: $(BIN)/bantay pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,$*]'
	touch $@

demo: venv
	$(BIN)/python scripts/demo.py

stop: venv
	$(BIN)/python scripts/demo.py --stop

test: venv
	$(BIN)/ruff check include dags tests benchmarks scripts plugins
	$(BIN)/lint-imports
	$(BIN)/pytest -q -m "not spark and not celery"

test-unit: venv
	$(BIN)/pytest -q tests/dags tests/unit

# The bantay pages in Debian's Chromium (never a downloaded browser) against a real API server;
# also part of `make test`. BANTAY_UI_SCREENSHOTS=docs/img refreshes the README's pictures.
test-browser: venv
	$(BIN)/pytest -q tests/browser

# Feast's Spark profile on local[2] against the DuckDB profile (Java 17; a few minutes).
test-spark: $(VENV)/.extra-spark
	$(BIN)/pytest -q -m spark tests/spark

# The end-to-end episode through Airflow's CeleryExecutor: a Celery worker, Redis broker,
# PostgreSQL metadata and result backend, all on loopback.
test-celery: $(VENV)/.extra-celery
	$(BIN)/pytest -q -m celery tests/celery

# The Terraform module applied to a local AWS endpoint with IAM enforced, bantay's store run as
# each component's role (about two minutes; also part of `make test`; skipped without terraform).
test-infra: venv
	$(BIN)/pytest -q -m infra tests/infra

lint: venv
	$(BIN)/ruff check include dags tests benchmarks scripts plugins
	$(BIN)/ruff format --check include dags tests benchmarks scripts plugins
	$(BIN)/lint-imports
	infra/terraform/lint.sh

reliability: venv
	$(BIN)/python scripts/reliability.py

format: venv
	$(BIN)/ruff format include dags tests benchmarks scripts plugins
	$(BIN)/ruff check --fix include dags tests benchmarks scripts plugins

airflow: venv
	$(BIN)/python scripts/demo.py --airflow-only

bench: venv
	$(BIN)/python benchmarks/bench_parse.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_serving.py
	$(BIN)/python benchmarks/bench_drift.py
	$(BIN)/python benchmarks/bench_online.py

# DuckDB against Spark local[2] for training sets at 50k-500k learners: an hour or more.
bench-crossover: $(VENV)/.extra-spark
	$(BIN)/python benchmarks/bench_crossover.py

eval-drift: venv
	$(BIN)/python benchmarks/eval_drift.py
	$(BIN)/python benchmarks/eval_fairness.py

eval-drift-quick: venv
	$(BIN)/python benchmarks/eval_drift.py --quick
	$(BIN)/python benchmarks/eval_fairness.py --quick

eval-paired: venv
	$(BIN)/python benchmarks/eval_paired.py

eval-paired-quick: venv
	$(BIN)/python benchmarks/eval_paired.py --quick

eval-experiment: venv
	$(BIN)/python benchmarks/eval_experiment.py

eval-experiment-quick: venv
	$(BIN)/python benchmarks/eval_experiment.py --quick

clean:
	rm -rf .demo .pytest_cache .ruff_cache
