#!/usr/bin/env python3
# `make ram`: the firmware's heap, measured under a 32-bit MicroPython unix port (the
# pointer size and 16-byte GC blocks of the RP2040 and the ESP32), from the .mpy tree
# exactly as `make deploy` lays it out (with the PC's board, boards/host), against the
# simulated water heater; and a budget per board that fails the command when missed:
#   pico_w  boots and holds the load in -X heapsize=160k (the Pico W's 192 KB heap less
#           32 KB for Wi-Fi and lwIP buffers at run time): the web page's own polling,
#           4 clients polling every GET route without pause, and DR command cycles
#   esp32   the same with 2 clients in -X heapsize=100k (an ESP32-WROOM without PSRAM)
# Held means: 0 MemoryError, every answer complete and correct, every link ACK inside
# the 40-200 ms window, no task restarted.
#   python tools/ram.py [--board pico_w|esp32|all] [--seconds 60] [--binary PATH]
#                       [--heap BYTES] [--json FILE]
# The 32-bit binary: --binary, else MICROPYTHON32= (CI: ../shared/micropython32). Without
# one the budgets are skipped (a failure under CI=true) and the same figures are taken
# from the venv's 64-bit unix port at 1.5x the heap, as figures only: 8-byte pointers and
# 32-byte GC blocks make everything larger there.

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
for _p in (TOOLS, os.path.join(ROOT, "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import deploy  # noqa: E402
import runtime  # noqa: E402

TARGETS = {
    "pico_w": {
        "heap": 160 * 1024,
        "clients": 4,
        "http_clients": 4,
        "why": "Pico W: 192 KB of MicroPython heap, 32 KB kept for Wi-Fi and lwIP",
    },
    "esp32": {
        "heap": 100 * 1024,
        "clients": 2,
        "http_clients": 2,
        "why": "ESP32-WROOM without PSRAM: about 100-110 KB",
        # not held yet with .mpy: reported, not failed (README: RAM)
        "not_yet": "with .mpy the firmware does not fit an ESP32's heap yet: freeze it",
    },
}
LOAD_S = 60
SCALE_64 = 1.5  # heap factor for the 64-bit fallback
ACK_WINDOW_MS = (40, 200)  # the UCM's link ACK after a frame of the heater's
TOKEN = "ram-budget-token-1"
GROUP_ORDER = ("codec", "engine", "ninebit", "Microdot", "API", "board", "the rest", "optional")
HOW_32 = (
    "build one from MicroPython's sources: make -C ports/unix VARIANT=standard CFLAGS_EXTRA=-m32 "
    "LDFLAGS_EXTRA=-m32 MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 (Debian: gcc-multilib; "
    "to run it: libc6-i386), then MICROPYTHON32=/path/to/micropython"
)


class RamError(Exception):
    """A problem reported as one line (no traceback)."""


def _ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# --- the tree and the binary ------------------------------------------------------------


def stage():
    """The host board's deploy tree in build/ram/tree: (folder, items)."""
    items = deploy.files("host", host=True)
    out = os.path.join(ROOT, "build", "ram", "tree")
    deploy.stage("host", items, deploy.Compiler(), out=out)
    return out, items


def group_of(item):
    """The table group of one deployed module (an Item of tools/deploy.py)."""
    n = item.name
    if n in ("lib/ucm/mqtt.py", "lib/ucm/ha.py", "lib/ucm/schedule.py"):
        return "optional"  # MQTT, HA, schedule: host board only for now (deploy HOST_ONLY)
    if n.startswith("lib/cta2045/"):
        return "codec"
    if n.startswith("lib/ucm/"):
        return "engine"
    if n.startswith("lib/ninebit/") or n == "firmware/ucm_ninebit_bus.py":
        return "ninebit"
    if item.group == "microdot":
        return "Microdot"
    if n.startswith("firmware/ucm_api") or n == "firmware/ucm_metrics.py":
        return "API"
    if n.startswith("boards/"):
        return "board"
    return "the rest"


def modules(items):
    """[[group, [module, ...]], ...] in GROUP_ORDER: what the probe imports. The device
    boards' shared modules (boards/common) need a microcontroller and are left out."""
    groups = {g: [] for g in GROUP_ORDER}
    for it in items:
        if it.kind != "mpy" or it.name.startswith("boards/common/"):
            continue
        path = it.dest[len("/lib/") : -len(".mpy")]
        mod = path.replace("/", ".")
        if mod.endswith(".__init__"):
            mod = mod[: -len(".__init__")]
        groups[group_of(it)].append(mod)
    for g in groups:  # a package before its modules
        groups[g].sort(key=lambda m: (m.count("."), m) if g != "the rest" else (m == "ucm_main", m))
    return [[g, groups[g]] for g in GROUP_ORDER if groups[g]]


def check_binary(path):
    """(version text, bits) of a unix-port binary; RamError when it does not run."""
    try:
        p = subprocess.run(
            [path, "-c", 'import sys; print(sys.version.split("; ")[-1], sys.maxsize > 2**32)'],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except OSError as e:
        if getattr(e, "errno", None) == 2 and os.path.exists(path):
            raise RamError(
                "%s does not start: a 32-bit binary needs the 32-bit C library (Debian: apt-get "
                "install libc6-i386)" % path
            )
        raise RamError("%s does not start: %s" % (path, e))
    if p.returncode:
        raise RamError("%s does not run: %s" % (path, (p.stderr or p.stdout).strip()[-200:]))
    version, big = p.stdout.strip().rsplit(" ", 1)
    return version, 64 if big == "True" else 32


FROZEN = False  # --frozen: the binary has the firmware frozen in; the tree's /lib is not used


def env_for(tree):
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen" if FROZEN else os.path.join(tree, "lib") + ":.frozen"
    return env


# --- import costs -----------------------------------------------------------------------


def import_costs(binary, tree, items, heap=1024 * 1024):
    """The probe's result (tools/ram_probe.py) for every module group, in order."""
    spec = os.path.join(ROOT, "build", "ram", "groups.json")
    with open(spec, "w") as f:
        json.dump(modules(items), f)
    p = subprocess.run(
        [binary, "-X", "heapsize=%d" % heap, os.path.join(TOOLS, "ram_probe.py"), spec],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_for(tree),
        cwd=tree,
    )
    for line in p.stdout.splitlines():
        if line.startswith("RAM "):
            return json.loads(line[4:])
    raise RamError("the import probe failed: %s" % (p.stderr or p.stdout).strip()[-300:])


# --- the firmware under load ------------------------------------------------------------


def page_timing():
    """(status, log, energy) polling periods in ms, read from the web page itself."""
    with open(os.path.join(ROOT, "firmware", "www", "index.html")) as f:
        text = f.read()
    got = {}
    for k in ("POLL_MS", "LOG_MS", "ENERGY_MS"):
        m = re.search(r"\b%s = (\d+)" % k, text)
        if not m:
            raise RamError("the web page has no %s: the page's polling pattern is unknown" % k)
        got[k] = int(m.group(1))
    m = re.search(r'getJSON\("/api/log\?n=(\d+)"', text)
    return got["POLL_MS"], got["LOG_MS"], got["ENERGY_MS"], int(m.group(1)) if m else 20


ROUTES = ("/api/status", "/api/log?n=200", "/metrics", "/api/sgd/info", "/api/sgd/energy", "/api/config", "/")


class Load:
    """HTTP clients against 127.0.0.1:port, each in a thread, every answer checked."""

    def __init__(self, port, page_bytes, log_size):
        self.port = port
        self.page = page_bytes
        self.log_size = log_size
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.count = {}  # what -> answers
        self.failures = []  # (what, why)
        self.nfail = 0
        self.threads = []

    def request(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = {"Authorization": "Bearer " + TOKEN}
            if body is not None:
                body = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.read(), r.getheader("Content-Type") or ""
        finally:
            c.close()

    def _fail(self, what, why):
        with self.lock:
            self.nfail += 1
            if len(self.failures) < 12:
                self.failures.append((what, why))

    def check(self, method, path, body=None, want=None):
        """One request; its answer checked. Returns the decoded JSON (or None)."""
        what = method + " " + path
        try:
            code, data, ctype = self.request(method, path, body)
        except (OSError, http.client.HTTPException) as e:
            self._fail(what, "%s: %s" % (type(e).__name__, e))
            return None
        with self.lock:
            self.count[what] = self.count.get(what, 0) + 1
        if code != 200:
            self._fail(what, "HTTP %d %s" % (code, data[:120]))
            return None
        if path == "/":
            if data != self.page:
                self._fail(what, "the page came back with %d of %d bytes" % (len(data), len(self.page)))
            return None
        if path == "/metrics":
            text = data.decode("utf-8", "replace")
            if not text.endswith("\n") or "\nucm_link_up 1\n" not in text or "ucm_mem_free_bytes" not in text:
                self._fail(what, "incomplete metrics (%d bytes, ends %r)" % (len(data), text[-40:]))
            return None
        try:
            obj = json.loads(data)
        except ValueError:
            self._fail(what, "not complete JSON (%d bytes, ends %r)" % (len(data), data[-40:]))
            return None
        bad = want(obj) if want else None
        if bad:
            self._fail(what, bad)
        return obj

    def _route_check(self, path):
        if path.startswith("/api/status"):
            return lambda o: (
                None
                if o["link"]["state"] == "up" and "mem_free_low" in o["firmware"]
                else "link %s" % o["link"]["state"]
            )
        if path.startswith("/api/log"):
            return lambda o: (
                None
                if 0 < len(o["frames"]) <= self.log_size and all("hex" in f for f in o["frames"])
                else "frame log of %d rows" % len(o["frames"])
            )
        if path.startswith("/api/sgd/info"):
            return lambda o: None if isinstance(o.get("info"), dict) else "no info"
        if path.startswith("/api/sgd/energy"):
            return lambda o: None if "energy" in o else "no energy"
        if path == "/api/config":
            return lambda o: None if "config" in o and "state" in o else "no config"
        return None

    def _poller(self):
        # every GET route, in turn, without a pause
        while not self.stop.is_set():
            for path in ROUTES:
                if self.stop.is_set():
                    break
                self.check("GET", path, want=self._route_check(path))

    def _page(self, timing):
        # the web page: / once, then its own polling chain (firmware/www/index.html)
        poll_ms, log_ms, energy_ms, log_n = timing
        self.check("GET", "/")
        t_log = t_energy = -1e9
        while not self.stop.is_set():
            t = time.monotonic() * 1000
            self.check("GET", "/api/status", want=self._route_check("/api/status"))
            if t - t_log >= log_ms:
                t_log = t
                self.check("GET", "/api/log?n=%d" % log_n, want=self._route_check("/api/log"))
            if t - t_energy >= energy_ms:
                t_energy = t
                self.check("GET", "/api/sgd/energy", want=self._route_check("/api/sgd/energy"))
            self.stop.wait(poll_ms / 1000)

    def _dr(self):
        # shed, info refresh, energy refresh, end: in a loop
        def result(want):
            return lambda o: None if o.get("result") == want else "result %s" % o.get("result")

        while not self.stop.is_set():
            self.check("POST", "/api/dr/shed", {"duration_s": 600}, want=result("ack"))
            self.check(
                "GET",
                "/api/sgd/info?refresh=1",
                want=lambda o: None if o.get("refresh", {}).get("result") == "reply" else "refresh %r" % o,
            )
            self.check(
                "GET",
                "/api/sgd/energy?refresh=1",
                want=lambda o: None if o.get("refresh", {}).get("result") == "reply" else "refresh %r" % o,
            )
            self.check("POST", "/api/dr/end", {}, want=result("ack"))

    def start(self, clients, timing):
        jobs = [(self._page, (timing,)), (self._dr, ())] + [(self._poller, ())] * clients
        for fn, args in jobs:
            t = threading.Thread(target=fn, args=args, daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def _start_line(text):
    m = re.search(r"ucm: started, mem_free (\d+), mem_alloc (\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def starter(binary, tree, heap, http_clients=None):
    """A Rig start function (tools/rig.py): the deploy tree's /main.py under binary in
    -X heapsize=heap, on the host board, quiet, serving the tree's page."""
    page = os.path.join(tree, "www", "index.html.gz")

    def start(serial, http_port, token, log):
        argv = [
            binary,
            "-X",
            "heapsize=%d" % heap,
            os.path.join(tree, "main.py"),
            "--serial",
            serial,
            "--http-port",
            str(http_port),
            "--page",
            page,
            "--quiet",
        ]
        if http_clients:
            argv += ["--http-clients", str(http_clients)]
        env = env_for(tree)
        env["UCM_TOKEN"] = token
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tree)

    return start


def run_target(binary, tree, name, heap, clients, seconds, http_clients=4, progress=print):
    """Boot the firmware in `heap` bytes, wait for the link, load it for `seconds`.
    Returns a dict of figures and "problems" (empty when the budget holds)."""
    import rig

    log_path = os.path.join(ROOT, "build", "ram", "%s-%d.log" % (name, heap))
    with open(os.path.join(tree, "www", "index.html.gz"), "rb") as f:
        page_bytes = f.read()
    out = {"board": name, "heap": heap, "clients": clients, "seconds": seconds, "problems": []}
    r = rig.Rig(log_path, TOKEN, start=starter(binary, tree, heap, http_clients))
    try:
        try:
            r.wait(lambda: r.proc.poll() is not None or r.status()["link"]["state"] == "up", 40, "link up")
            if r.proc.poll() is not None:
                raise AssertionError("exited")
        except AssertionError:
            out["booted"] = False
            out["problems"].append("did not boot to link up and /api/status in %d B" % heap)
            out["output"] = r.output()[-1500:]
            return out
        out["booted"] = True
        out["start_free"], out["start_alloc"] = _start_line(r.output())
        answers0 = len(r.sim.answer_ms)
        load = Load(r.http, page_bytes, 64)
        progress(
            "ram: %s: %d B heap, booted (%s B in use after start-up); the page, %d clients and DR cycles for "
            "%d s" % (name, heap, out["start_alloc"], clients, seconds)
        )
        load.start(clients, page_timing())
        end = time.monotonic() + seconds
        while time.monotonic() < end and r.proc.poll() is None:
            time.sleep(0.5)
        load.finish()
        out["answers"] = sum(load.count.values())
        out["failures"] = load.nfail
        out["failed"] = load.failures
        alive = r.proc.poll() is None
        st = None
        if alive:
            try:
                st = r.api("GET", "/api/status")[1]
            except Exception as e:  # noqa: BLE001 (reported as a problem)
                out["problems"].append("no /api/status after the load: %s" % e)
        else:
            out["problems"].append("the firmware exited (%s)" % r.proc.returncode)
        text = r.output()
        out["memory_errors"] = text.count("MemoryError")
        acks = r.do(lambda: list(r.sim.answer_ms[answers0:]))
        out["ack_ms"] = [min(acks), max(acks)] if acks else None
        out["acks"] = len(acks)
        if st:
            fw = st["firmware"]
            out["low_free"] = fw["mem_free_low"]
            out["heap_total"] = fw["mem_free"] + fw["mem_alloc"]
            out["restarts"] = sum(t["restarts"] for t in fw["tasks"].values())
            out["link"] = st["link"]["state"]
            out["busy"] = fw["http"]["busy"]
            if out["restarts"]:
                out["problems"].append("%d task restart(s): %s" % (out["restarts"], fw["tasks"]))
        if out["memory_errors"]:
            out["problems"].append("%d MemoryError(s) in the firmware's output" % out["memory_errors"])
        if load.nfail:
            out["problems"].append(
                "%d of %d answers wrong or missing, e.g. %s"
                % (load.nfail, out["answers"] + load.nfail, "; ".join("%s: %s" % f for f in load.failures[:3]))
            )
        if not acks:
            out["problems"].append("no link ACK timed during the load")
        elif not ACK_WINDOW_MS[0] <= min(acks) <= max(acks) <= ACK_WINDOW_MS[1]:
            out["problems"].append(
                "link ACKs %d-%d ms after the heater's frames (window %d-%d)"
                % (min(acks), max(acks), ACK_WINDOW_MS[0], ACK_WINDOW_MS[1])
            )
        if out["problems"]:
            lines = [ln for ln in text.splitlines() if "Error" in ln or "Traceback" in ln or "api:" in ln]
            out["output"] = "\n".join(lines[-15:])
        return out
    finally:
        r.close()


# --- the table --------------------------------------------------------------------------


def kb(n):
    return "-" if n is None else "%.1f KB" % (n / 1024)


def table(version, bits, costs, runs, fallback=False):
    lines = [
        "RAM, MicroPython unix port %s (%d-bit%s), %s (host board), against the simulated heater"
        % (
            version,
            bits,
            ", figures only: the budgets are for the 32-bit port" if fallback else "",
            "the firmware frozen into the binary" if FROZEN else ".mpy deploy tree",
        )
    ]
    lines.append("  heap each module group costs to import (in this order):")
    for g, n in costs["groups"]:
        lines.append("    %-10s %9s" % (g, kb(n)))
    lines.append(
        "    %-10s %9s  (before: %s; the interpreter's own)"
        % ("all", kb(costs["total"] - costs["base"]), kb(costs["base"]))
    )
    for m, why in costs["failed"]:
        lines.append("    not importable here: %s (%s)" % (m, why))
    lines.append(
        "  %-7s %8s %7s  %-10s %-11s %-11s %-9s %s"
        % ("board", "heap", "clients", "start-up", "low free", "peak used", "answers", "result")
    )
    for r in runs:
        peak = None if r.get("low_free") is None else r["heap_total"] - r["low_free"]
        verdict = "holds" if not r["problems"] else ("MISSES: " + "; ".join(r["problems"]))
        if fallback:
            verdict = "figures only" if not r["problems"] else "(64-bit) " + "; ".join(r["problems"])
        lines.append(
            "  %-7s %8s %7d  %-10s %-11s %-11s %-9s %s"
            % (
                r["board"],
                kb(r["heap"]),
                r["clients"],
                kb(r.get("start_alloc")),
                kb(r.get("low_free")),
                kb(peak),
                r.get("answers", "-"),
                verdict,
            )
        )
        if r.get("ack_ms"):
            lines.append(
                "  %-7s link ACKs %d-%d ms after the heater's frames (%d timed)"
                % ("", r["ack_ms"][0], r["ack_ms"][1], r["acks"])
            )
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="ram.py",
        description="Heap figures and budgets of the firmware under a 32-bit MicroPython unix port (make ram).",
    )
    p.add_argument("--board", default="all", choices=("all",) + tuple(TARGETS), help="the budget(s) to check")
    p.add_argument(
        "--seconds",
        type=int,
        default=int(os.environ.get("RAM_SECONDS") or LOAD_S),
        help="load duration per budget (default %(default)s)",
    )
    p.add_argument(
        "--binary", default=os.environ.get("MICROPYTHON32") or None, help="the 32-bit unix port (MICROPYTHON32=)"
    )
    p.add_argument("--heap", type=int, help="another -X heapsize for --board (figures, e.g. to find the least)")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument(
        "--frozen",
        action="store_true",
        help="--binary has the firmware frozen in (a build with this "
        "repository's manifest and the host board): figures for frozen bytecode",
    )
    a = p.parse_args(argv)
    if a.seconds < 1:
        p.error("--seconds must be >= 1")
    global FROZEN
    FROZEN = a.frozen
    try:
        return _main(a)
    except (RamError, deploy.DeployError) as e:
        print("ram: %s" % e, file=sys.stderr)
        return 1


def _main(a):
    fallback = False
    binary = a.binary
    if binary:
        binary = os.path.abspath(binary) if os.path.exists(binary) else binary
        if not os.path.exists(binary):
            raise RamError("MICROPYTHON32=%s: no such file" % a.binary)
        version, bits = check_binary(binary)
        if bits != 32:
            raise RamError("%s is a %d-bit build: the budgets need a 32-bit one (%s)" % (binary, bits, HOW_32))
    else:
        why = "no 32-bit MicroPython unix port given (MICROPYTHON32=): " + HOW_32
        if _ci():
            raise RamError("the RAM budgets cannot run: " + why)
        print("ram: SKIPPED the budgets: %s" % why)
        binary = runtime.micropython()
        if binary is None:
            print("ram: no 64-bit unix port either (make setup installs one on x86-64 Linux): no figures")
            return 0
        version, bits = check_binary(binary)
        fallback = True
        print("ram: figures from the venv's %d-bit unix port instead, at %.1fx the heap" % (bits, SCALE_64))
    tree, items = stage()
    costs = import_costs(binary, tree, items)
    boards = list(TARGETS) if a.board == "all" else [a.board]
    runs = []
    for b in boards:
        t = TARGETS[b]
        heap = a.heap or t["heap"]
        if fallback:
            heap = int(heap * SCALE_64)
        runs.append(run_target(binary, tree, b, heap, t["clients"], a.seconds, t["http_clients"]))
    lines = table(version, bits, costs, runs, fallback)
    print("\n".join(lines))
    for r in runs:  # the firmware's own words, where a budget fails
        counted = not fallback and not (TARGETS[r["board"]].get("not_yet") and not a.heap)
        if r["problems"] and r.get("output") and counted:
            print("ram: %s: the firmware's output ends:\n%s" % (r["board"], r["output"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                {"version": version, "bits": bits, "costs": costs, "runs": runs, "fallback": fallback}, f, indent=1
            )
    if fallback:
        return 0
    pending = [r["board"] for r in runs if r["problems"] and TARGETS[r["board"]].get("not_yet") and not a.heap]
    for b in pending:
        print("ram: %s: budget not held yet (%s); not counted as a failure" % (b, TARGETS[b]["not_yet"]))
    missed = [r["board"] for r in runs if r["problems"] and r["board"] not in pending]
    if missed:
        print("ram: budget missed: %s" % ", ".join(missed))
        return 1
    held = [r for r in runs if not r["problems"]]
    if held:
        print("ram: budgets hold: %s" % ", ".join("%s in %s" % (r["board"], kb(r["heap"])) for r in held))
    return 0


if __name__ == "__main__":
    sys.exit(main())
