# Each target builds its own virtual environment, so a fresh machine needs only Python 3.10+.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
# The oldest and the newest Python that requires-python claims; `make test` runs the default.
PYTHONS ?= 3.10 3.13

.PHONY: test test-pythons demo bench bench-smoke venv clean

$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.dev-installed

test: $(VENV)/.dev-installed
	$(PY) -m pytest -q

# `make test-3.13`: the suite on Python 3.13 (found by .ci/find-python), in .venv-3.13.
test-%:
	@py=$$(.ci/find-python $*) && $(MAKE) --no-print-directory test PYTHON="$$py" VENV=.venv-$*

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

$(VENV)/.bench-installed: $(VENV)/.dev-installed
	$(PIP) install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py $(ARGS)

# Every benchmark scenario at tiny sizes, no timing asserts: fails if a benchmark no longer runs.
bench-smoke: $(VENV)/.bench-installed
	$(PY) benchmarks/run.py --smoke

clean:
	rm -rf $(VENV) .venv-3.* build dist *.egg-info .pytest_cache
