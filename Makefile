# Each target builds its own virtual environment, so a fresh machine needs only Python 3.10+
# (3.11+ for `make test`: langchain-core 1.8 and fastmcp 4 in the frameworks extra need it).
# The test venv carries the agent frameworks too (the `frameworks` extra): tests/frameworks
# runs the examples under examples/ and fails under CI=true without them.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip

.PHONY: test demo bench venv clean

$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev,frameworks]'
	touch $@

venv: $(VENV)/.dev-installed

test: $(VENV)/.dev-installed
	$(PY) -m pytest -q

demo: $(VENV)/.dev-installed
	$(PY) -m agent_cache.demo $(ARGS)

$(VENV)/.bench-installed: $(VENV)/.dev-installed
	$(PIP) install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
