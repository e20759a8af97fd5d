# Two commands on a fresh machine: `make serve` and `make test`. Both install what they need
# (into .venv) and do nothing extra when nothing changed. Serving needs only the runtime
# dependencies; the test and dev tools (pytest, Playwright, ruff, mypy: most of the venv) are
# installed by the targets that use them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-stamp
DEV_STAMP := $(VENV)/.dev-stamp
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
PYTEST_ARGS ?=

.PHONY: serve test lint typecheck check bench clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

# The extras include the runtime, so they make the runtime stamp current too.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test,dev]'
	touch $@ $(RUNTIME_STAMP)

serve: $(RUNTIME_STAMP)
	$(BIN)/kluis serve

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n 2 --cov=pod --cov-report=term $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check pod tests examples benchmarks
	$(BIN)/ruff format --check pod tests examples benchmarks
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks

# The pages' strings: extract them (pod/locales/babel.cfg) and merge new and changed ones into
# every catalog, to be translated there (pod/locales/README.md). The catalogs are read at start:
# nothing to compile.
MESSAGES_POT := $(VENV)/messages.pot
messages: $(DEV_STAMP)
	$(BIN)/pybabel -q extract -F pod/locales/babel.cfg --add-location=file --sort-output \
		--project=Kluis --no-wrap -c TRANSLATORS: -o $(MESSAGES_POT) .
	$(BIN)/pybabel -q update -i $(MESSAGES_POT) -d pod/locales -D messages --no-wrap \
		--ignore-obsolete

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
