# Two commands on a fresh machine: `make serve` and `make test`. Both install what they need
# (into .venv) and do nothing extra when nothing changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: serve test lint typecheck check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/kluis serve

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --cov=pod --cov-report=term $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check pod tests examples benchmarks
	$(BIN)/ruff format --check pod tests examples benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
