# Each target builds its own virtual environment, so a fresh machine needs only Python 3.10+
# (3.11+ for `make test`: langchain-core 1.8 and fastmcp 4 in the frameworks extra need it).
# The test venv carries the agent frameworks too (the `frameworks` extra): tests/frameworks
# runs the examples under examples/ and fails under CI=true without them.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip

.PHONY: test lint test-crewai demo bench venv clean

$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev,frameworks]'
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

demo: $(VENV)/.dev-installed
	$(PY) -m agent_cache.demo $(ARGS)

$(VENV)/.bench-installed: $(VENV)/.dev-installed
	$(PIP) install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) $(CREWAI_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
