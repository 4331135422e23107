# Test runner for MicroPython: imports every test_*.py module of a folder and calls each
# test_* function, the way pytest collects the same files on CPython. Used by
# run_micropython.mjs (WebAssembly port) and by `make test-micropython MICROPYTHON=...`
# (unix port). Prints one line per failure with its traceback and a closing
# "micropython: N passed, N failed" line; main() returns the failure count.

import gc
import os
import sys


def _scrub(n=40):
    # Overwrite the C stack below the caller: a finished test's objects must not stay
    # alive through stale pointers there (the collector scans the stack conservatively),
    # or each test would start on a heap held by the one before.
    a = b = c = d = None
    return _scrub(n - 1) if n else (a, b, c, d)


def main(folder, only=None):
    if folder not in sys.path:
        sys.path.append(folder)
    passed = failed = 0
    names = sorted(f[:-3] for f in os.listdir(folder) if f.startswith("test_") and f.endswith(".py"))
    for name in names:
        if only and name not in only:
            continue
        try:
            mod = __import__(name)
        except Exception as e:  # a module that cannot even import fails as a whole
            failed += 1
            print("FAIL import %s" % name)
            sys.print_exception(e)
            continue
        for attr in sorted(dir(mod)):
            fn = getattr(mod, attr)
            if not attr.startswith("test_") or not callable(fn):
                continue
            try:
                fn()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAIL %s.%s" % (name, attr))
                sys.print_exception(e)
            fn = None
            _scrub()
            gc.collect()
    print("micropython: %d passed, %d failed" % (passed, failed))
    return failed


if __name__ == "__main__":
    # unix port: micropython host_tests/mp_run.py FOLDER [module ...]
    n = main(sys.argv[1], sys.argv[2:] or None)
    sys.exit(1 if n else 0)
