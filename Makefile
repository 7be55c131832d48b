# Each target builds its own virtual environment, so a fresh machine needs only Python 3.10+
# (3.11+ for `make test`: langchain-core 1.8 and fastmcp 4 in the frameworks extra need it).
# The test venv carries the agent frameworks too (the `frameworks` extra): tests/frameworks
# runs the examples under examples/ and fails under CI=true without them.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
# What the test venv installs, and extra pytest arguments (test-3.10 narrows both).
EXTRAS ?= dev,frameworks
PYTEST_ARGS ?=
# The oldest and the newest Python that requires-python claims; `make test` runs the default.
PYTHONS ?= 3.10 3.13

.PHONY: test lint suite test-crewai test-pythons demo dashboard bench bench-smoke venv clean

$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[$(EXTRAS)]'
	touch $@

venv: $(VENV)/.dev-installed

# Lint first: a type or style error fails `make test` before the suite runs.
lint: $(VENV)/.dev-installed
	$(PY) -m ruff check agent_cache tests
	$(PY) -m mypy --strict agent_cache

test: lint
	$(PY) -m pytest -q

# CrewAI pins openai<3 and mcp<2, so it cannot live in the test venv beside the other
# frameworks: its example runs from a venv of its own (AGENT_CACHE_FRAMEWORK_ENV tells
# tests/frameworks which examples belong to this venv).
CREWAI_VENV ?= .venv-crewai

$(CREWAI_VENV)/.crewai-installed: pyproject.toml
	$(PYTHON) -m venv $(CREWAI_VENV)
	$(CREWAI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CREWAI_VENV)/bin/python -m pip install --quiet -e '.[dev,crewai]'
	touch $@

test-crewai: $(CREWAI_VENV)/.crewai-installed
	AGENT_CACHE_FRAMEWORK_ENV=crewai $(CREWAI_VENV)/bin/python -m pytest -q tests/frameworks

# The suite alone (lint runs once, on the default Python, in `make test`).
suite: $(VENV)/.dev-installed
	$(PY) -m pytest -q $(PYTEST_ARGS)

# `make test-3.13`: the suite on Python 3.13 (found by .ci/find-python), in .venv-3.13.
# The frameworks extra needs 3.11+ (langchain-core 1.8, fastmcp 4): on 3.10 the core suite
# runs without tests/frameworks.
test-%:
	@py=$$(.ci/find-python $*) && if [ "$*" = "3.10" ]; then \
	  $(MAKE) --no-print-directory suite PYTHON="$$py" VENV=.venv-$* EXTRAS=dev PYTEST_ARGS=--ignore=tests/frameworks; \
	else \
	  $(MAKE) --no-print-directory suite PYTHON="$$py" VENV=.venv-$*; \
	fi

# The suite on every Python in PYTHONS. A missing one fails under CI=true, else is skipped.
test-pythons:
	@set -e; for v in $(PYTHONS); do \
	  if .ci/find-python $$v >/dev/null 2>&1 || [ "$${CI:-}" = true ]; then \
	    echo "== Python $$v"; $(MAKE) --no-print-directory test-$$v; \
	  else \
	    echo "== Python $$v: not installed, skipped (CI=true fails instead)"; \
	  fi; \
	done

demo: $(VENV)/.dev-installed
	$(PY) -m agent_cache.demo $(ARGS)

# The live dashboard on http://127.0.0.1:5001/ (ARGS="--port 8080 --host 0.0.0.0" to change).
dashboard: $(VENV)/.dev-installed
	$(PY) -m agent_cache.dashboard $(ARGS)

$(VENV)/.bench-installed: $(VENV)/.dev-installed
	$(PIP) install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py $(ARGS)
	$(PY) benchmarks/redis_tier.py

# Every benchmark scenario at tiny sizes, no timing asserts: fails if a benchmark no longer runs.
bench-smoke: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py --smoke

clean:
	rm -rf $(VENV) $(CREWAI_VENV) .venv-3.* build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
