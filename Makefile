# The UCM firmware's PC-side commands. `make test` and `make sim` set everything up
# themselves on a machine with Python >= 3.10, Node.js >= 18 and make.
#   make test                      every test: CPython, MicroPython, size budget
#   make sim                       the firmware against a simulated water heater, the
#                                  HTTP API on 127.0.0.1:8080 (PORT=, SERIAL=, QUIET=1)
#   make test-micropython          the portable tests under MicroPython only
#   make test-micropython MICROPYTHON=/path/to/micropython   ... under a unix-port binary
#   make size                      .mpy size table and budget check
#   make bench                     benchmarks (not part of make test)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MICROPYTHON ?=
NODE ?= node
NPM ?= npm
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all test test-python test-micropython size bench sim setup clean help

all: help

help:
	@sed -n '1,9p' Makefile

# --- set-up ---------------------------------------------------------------------------

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is needed, found " + sys.version.split()[0] + " (set PYTHON=...)")'
	@echo "setting up $(VENV) (pip install -r requirements-dev.txt)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v $(NODE) >/dev/null || { echo "Node.js >= 18 is needed for the MicroPython test pass (not found)"; exit 1; }
	@$(NODE) -e 'const v = process.versions.node.split(".").map(Number); if (v[0] < 18) { console.error("Node.js >= 18 is needed, found " + process.versions.node); process.exit(1); }'
	@echo "installing the MicroPython WebAssembly port (npm ci)"
	$(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed node_modules/.installed

# --- tests ----------------------------------------------------------------------------

test: setup
	$(MAKE) --no-print-directory size
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-micropython

test-python: $(VENV)/.installed
	$(PY) -m pytest host_tests

ifeq ($(strip $(MICROPYTHON)),)
test-micropython: node_modules/.installed
	$(NODE) host_tests/run_micropython.mjs
else
test-micropython:
	MICROPYPATH=$(CURDIR)/lib:.frozen $(MICROPYTHON) host_tests/mp_run.py host_tests/portable
endif

size: $(VENV)/.installed
	$(PY) tools/size.py

bench: setup
	$(PY) tools/bench.py

# --- run ------------------------------------------------------------------------------

# PORT= HTTP port (8080), SERIAL= a real SGD's tty (no simulator), QUIET=1 no trace,
# MICROPYTHON= run the firmware under a unix-port binary, UCM_TOKEN= the API token
sim: $(VENV)/.installed
	PORT="$(PORT)" SERIAL="$(SERIAL)" QUIET="$(QUIET)" MICROPYTHON="$(MICROPYTHON)" $(PY) tools/sim.py

clean:
	rm -rf build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
