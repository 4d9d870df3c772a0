# bantay: two commands for a newcomer (`make demo`, `make test`), a few for the rest of us.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv demo stop test test-unit lint format airflow bench clean

$(BIN)/bantay: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(BIN)/bantay

venv: $(BIN)/bantay

demo: venv
	$(BIN)/python scripts/demo.py

stop: venv
	$(BIN)/python scripts/demo.py --stop

test: venv
	$(BIN)/ruff check include dags tests benchmarks scripts
	$(BIN)/pytest -q

test-unit: venv
	$(BIN)/pytest -q tests/dags tests/unit

lint: venv
	$(BIN)/ruff check include dags tests benchmarks scripts
	$(BIN)/ruff format --check include dags tests benchmarks scripts

format: venv
	$(BIN)/ruff format include dags tests benchmarks scripts
	$(BIN)/ruff check --fix include dags tests benchmarks scripts

airflow: venv
	$(BIN)/python scripts/demo.py --airflow-only

bench: venv
	$(BIN)/python benchmarks/bench_parse.py
	$(BIN)/python benchmarks/bench_features.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_serving.py
	$(BIN)/python benchmarks/bench_drift.py

clean:
	rm -rf .demo .pytest_cache .ruff_cache
