# Each target builds its own virtual environment, so a fresh machine needs only Python 3.10+.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip

.PHONY: test demo dashboard bench venv clean

$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.dev-installed

test: $(VENV)/.dev-installed
	$(PY) -m pytest -q

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

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
