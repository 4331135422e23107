# sgd_sim: a simulated CTA-2045 water heater (the "SGD") for the PC, CPython only.
# The UCM firmware and its tests run against it instead of a real heater. It behaves like
# the heaters described in the protocol reference (lib/cta2045/PROTOCOL.md): quick link ACKs, application replies a few
# hundred ms later, periodic discovery bursts, Basic DR events with operational states,
# customer override, optional Intermediate DR (GetInformation, commodity read, setpoint,
# temperature, Advanced Load Up, UTC), a small tank energy model, and fault injection.
#
# SgdSim is sans-IO: feed(data, now_ms), poll(now_ms) -> frames to write, next_due(now_ms).
# run(sim, port) drives it over a byte port (tools/ports.py); main() is the command line:
#     python3 tools/sgd_sim --pty              serve on a new pty, print its path
#     python3 tools/sgd_sim --serial /dev/ttyUSB0
# While running it prints every frame in and out and reads commands on stdin (help).
#
# The package (tools/sgd_sim/): common.py (states, opcodes, SETTINGS), sim.py (SgdSim and
# its sans-IO interface) over link.py (its own link layer), heater.py (the tank and the
# message handlers) and faults.py (override, drops, silence, reboot); runner.py (the
# asyncio runner) and cli.py (the command line, also __main__.py).

import os
import sys

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tools/
for _p in (_HERE, os.path.join(os.path.dirname(_HERE), "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from ucm.trace import describe  # noqa: E402,F401  (also sgd_sim.describe)

from sgd_sim.common import (  # noqa: E402,F401  (the states and settings, for the tests and tools)
    IDLE_CURTAILED,
    IDLE_HEIGHTENED,
    IDLE_NORMAL,
    IDLE_OPTED_OUT,
    RUNNING_CURTAILED,
    RUNNING_HEIGHTENED,
    RUNNING_NORMAL,
    RUNNING_OPTED_OUT,
    SETTINGS,
    STATE_NAMES,
)
from sgd_sim.sim import SgdSim  # noqa: E402,F401
from sgd_sim.runner import monotonic_ms, run  # noqa: E402,F401
from sgd_sim.cli import HELP, _Quit, command, format_line, main, read_lines  # noqa: E402,F401
