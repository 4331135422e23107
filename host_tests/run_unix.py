#!/usr/bin/env python3
# Runs the portable tests (host_tests/portable) under MicroPython's unix port, each test
# module in its own process with a fixed heap, as a board holds one application: the
# codec, the engine, the firmware parts and that module. Prints each module's line and a
# closing "micropython: N passed, N failed"; exit status 1 on any
# failure, 2 when there is no unix port.
#   python3 host_tests/run_unix.py [--heap 256k] [module ...]     (MICROPYTHON= a binary)
# The heap: 256 KB on this 64-bit port is about 176 KB on a 32-bit MCU (objects cost
# ~1.45x here), just under the 187.5 KB a Pico W has free at boot.
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import runtime  # noqa: E402

HEAP = "256k"
PORTABLE = os.path.join(ROOT, "host_tests", "portable")
# what the portable tests import: lib/, and the firmware parts that need no hardware
PATH = [os.path.join(ROOT, p) for p in ("lib", "firmware", "boards/common")] + [".frozen"]
_COUNT = re.compile(r"^micropython: (\d+) passed, (\d+) failed$", re.M)


def modules():
    return sorted(f[:-3] for f in os.listdir(PORTABLE) if f.startswith("test_") and f.endswith(".py"))


def run(mp, heap, name):
    """(passed, failed, output) of one module in its own process."""
    env = dict(os.environ, MICROPYPATH=":".join(PATH))
    try:
        r = subprocess.run(
            [mp, "-X", "heapsize=" + heap, os.path.join(ROOT, "host_tests", "mp_run.py"), PORTABLE, name],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        return 0, 1, "%s: timed out\n" % name
    out = r.stdout + r.stderr
    m = _COUNT.search(out)
    if not m:  # died before its summary (a crash, an import-time MemoryError)
        return 0, 1, out + "\n%s: no summary (exit status %d)\n" % (name, r.returncode)
    return int(m.group(1)), int(m.group(2)), out


def main(argv=None):
    a = argparse.ArgumentParser(description=__doc__)
    a.add_argument("--heap", default=HEAP, help="-X heapsize for each module (default %(default)s)")
    a.add_argument("modules", nargs="*")
    args = a.parse_args(argv)
    mp = runtime.micropython()
    if not mp:
        print(
            "run_unix.py: no MicroPython unix port (make setup installs one on x86-64 Linux; "
            "else MICROPYTHON=/path/to/micropython)"
        )
        return 2
    passed = failed = 0
    for name in args.modules or modules():
        p, f, out = run(mp, args.heap, name)
        passed += p
        failed += f
        if f:
            print(out.rstrip())
        print("  %-24s %d passed, %d failed" % (name, p, f))
    print("unix port %s, -X heapsize=%s, one process a module" % (mp, args.heap))
    print("micropython: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
