# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
TEST_WORKERS ?= 2

.PHONY: run test typecheck bench desktop venv clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "Duplex needs Python 3.11 or newer (found: $$($(PYTHON) --version 2>&1))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(PY) main.py

# The suite in a temporary folder of its own, removed at the end; tests/leftovers.py fails the run if a test
# left a process running or a file behind. In parallel (pytest-xdist): one worker per core of this 2-core
# machine (more starve each other's timers), the tests that run Chromium in one group (--dist loadgroup).
test: venv
	$(PY) -m mypy
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/duplex-tests-XXXXXX") && \
	  QT_QPA_PLATFORM=offscreen TMPDIR=$$tmp $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup \
	    --durations=30 --basetemp=$$tmp/pytest $(PYTEST_ARGS); \
	  code=$$?; rm -rf "$$tmp"; exit $$code

typecheck: venv
	$(PY) -m mypy

bench: venv
	QT_QPA_PLATFORM=offscreen $(PY) tests/bench/run.py

desktop: venv
	$(PY) -m ui.identity --install

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
