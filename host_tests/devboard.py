# Loads the device boards' modules on the PC for tests: the stand-ins for machine,
# network and ntptime (host_tests/standins) and boards/common on the module path, and a
# board module (boards/<name>/ucm_board.py) imported under its own name.
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (
    os.path.join(ROOT, "host_tests", "standins"),
    os.path.join(ROOT, "boards", "common"),
    os.path.join(ROOT, "firmware"),
    os.path.join(ROOT, "lib"),
):
    if p not in sys.path:
        sys.path.insert(0, p)

import machine  # noqa: E402, F401  (the stand-ins, loaded first)
import network  # noqa: E402, F401


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def board(name):
    """boards/<name>/ucm_board.py as module <name>_board; its folder joins the module path
    (for its own drivers, e.g. pio9, uart9)."""
    folder = os.path.join(ROOT, "boards", name)
    if folder not in sys.path:
        sys.path.append(folder)
    return load("boards/%s/ucm_board.py" % name, name + "_board")


def firmware_main():
    return load("firmware/main.py", "ucm_main")
