# Each target builds its own virtual environment, so a fresh machine needs only Python 3.10+.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip

.PHONY: test lint demo bench venv clean

$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.dev-installed

# Lint first: a type or style error fails `make test` before the suite runs.
lint: $(VENV)/.dev-installed
	$(PY) -m ruff check agent_cache tests
	$(PY) -m mypy --strict agent_cache

test: lint
	$(PY) -m pytest -q

demo: $(VENV)/.dev-installed
	$(PY) -m agent_cache.demo $(ARGS)

$(VENV)/.bench-installed: $(VENV)/.dev-installed
	$(PIP) install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
