#!/usr/bin/env python3
# Codec benchmarks (`make bench`, not part of `make test`). They measure and print;
# they never fail on a number.
#   python tools/bench.py                  every section
#   python tools/bench.py --only a         one section (comma-separated names; --list)
# Sections:
#   a  CPython throughput of our codec (lib/cta2045) against the PyPI `cta2045` 0.1.0
#      codec ("PCTA"), decoding and encoding the same seeded mix of frames. Goal: ours
#      at least 3x PCTA.
#   b  under MicroPython (the WebAssembly port, or MICROPYTHON=/path/to/micropython):
#      heap bytes the streaming FrameReader allocates per byte fed and per complete
#      frame (gc.mem_alloc deltas; tools/mp_alloc.py). Goal: 0 per byte, <= 64 per frame.
#   c  `make sim` over a real pty and HTTP: HTTP-command-to-App-ACK latency (median and
#      worst) against the protocol's own minimum for that exchange (wire time of the
#      command + T_MA + ACK + T_AR + wire time of the App ACK), with a simulated heater
#      that answers as fast as the protocol allows.
#   d  the share of our link ACKs sent 40-200 ms (T_MA) after the end of the heater's
#      frame while 20 HTTP clients poll /api/status without pause. Goal: 100 %.
#   e  the 9-bit bus Reader (lib/ninebit) under MicroPython (the WebAssembly port, or
#      MICROPYTHON=...) and CPython: symbols per second against the bus's line rate
#      (19200 baud / 11 bits = 1745 characters/s), with the 9th bit (feed_symbols) and
#      without (feed, in chunks), and heap bytes allocated per symbol (gc.mem_alloc).
# A new section is a function taking the parsed arguments, registered with
# @section("name", "title"); it is then listed, run by default and selectable by --only.

import argparse
import gc
import os
import platform
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
import oracle  # noqa: E402  (puts lib/ first on sys.path; loads PCTA beside our codec)

from cta2045 import message  # noqa: E402

SECTIONS = []  # (name, title, function(args)), in run order
GOAL = 3.0  # ours / PCTA throughput wanted for part a


def section(name, title):
    def register(fn):
        SECTIONS.append((name, title, fn))
        return fn

    return register


def best_of(repeat, fn):
    """Shortest wall time of repeat calls of fn() (garbage collection off while timing)."""
    best = None
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t = time.perf_counter()
            fn()
            t = time.perf_counter() - t
        finally:
            gc.enable()
        best = t if best is None or t < best else best
    return best


# ----------------------------------------------------------------------------- part a

# kind -> weight in the mix. PCTA can build the first five kinds (its shed/critical_peak/
# grid_emergency/load_up/end builders, its BasicDR dataclass for App ACKs and op-state
# responses, advanced_load_up for ALU sets); it has no encoder for commodity read replies
# or GetInformation replies, so those are only in the decode comparison.
MIX = (
    ("basic_event", 30),
    ("end_shed", 5),
    ("app_ack", 20),
    ("op_state", 15),
    ("alu_set", 10),
    ("commodity_reply", 12),
    ("get_information", 8),
)
DURATION_CMDS = ("shed", "critical_peak", "grid_emergency", "load_up")
ACKED = (0x01, 0x02, 0x06, 0x07, 0x0A, 0x0B, 0x0E, 0x11, 0x14, 0x15, 0x16, 0x17)
ALU_OPT = (  # our field, PCTA argument, bits
    ("efficiency", "efficiency", 8),
    ("event_id", "event_id", 32),
    ("start", "start_time", 32),
    ("start_rand", "start_randomization", 8),
    ("end_rand", "end_randomization", 8),
)


def make_mix(n, seed, pcta):
    """n items (kind, our encode spec, PCTA encode spec or None, frame), drawn from a
    seeded generator. Specs are (callable, args, kwargs); PCTA's arguments (Duration
    objects, enums) are prepared here, outside the timed loops, like our kwargs."""
    app, Duration, Cat = pcta.app, pcta.codec.Duration, pcta.enums.BasicDRCategory
    rnd = random.Random(seed)
    kinds = [k for k, w in MIX for _ in range(w)]
    enc = message.encode
    items = []
    for _ in range(n):
        kind = rnd.choice(kinds)
        theirs = None
        if kind == "basic_event":
            cmd = rnd.choice(DURATION_CMDS)
            b = rnd.randrange(256)
            ours = (enc, (cmd,), {"duration": b})
            theirs = (getattr(app, cmd), (Duration.from_byte(b),), {})
        elif kind == "end_shed":
            ours = (enc, ("end_shed",), {})
            theirs = (app.end, (), {})
        elif kind == "app_ack":
            op = rnd.choice(ACKED)
            ours = (enc, ("app_ack",), {"opcode": op})
            theirs = (app.BasicDR, (Cat.ACK, op), {})
        elif kind == "op_state":
            s = rnd.randrange(15)
            ours = (enc, ("op_state",), {"state": s})
            theirs = (app.BasicDR, (Cat.State_Query_Response, s), {})
        elif kind == "alu_set":
            d, v, u = rnd.randrange(1, 721), rnd.choice((0xFFFF, rnd.randrange(1, 100))), rnd.randrange(4)
            kw = {"duration_min": d, "value": v, "units": u}
            tkw = {}
            for o, t, bits in ALU_OPT[: rnd.randrange(6)]:
                kw[o] = tkw[t] = rnd.getrandbits(bits)
            ours = (enc, ("advanced_load_up",), kw)
            theirs = (app.advanced_load_up, (d, v, u), tkw)
        elif kind == "commodity_reply":
            recs = []
            for code in rnd.sample((0, 6, 7, 8, 10, 11), rnd.randrange(2, 4)):
                recs.append(
                    {
                        "code": code,
                        "measured": rnd.random() < 0.3,
                        "rate": rnd.randrange(6000),
                        "cumulative": rnd.randrange(1 << 24),
                    }
                )
            ours = (enc, ("commodity_read", True), {"rc": 0, "records": recs})
        else:  # get_information reply: 53 bytes, or the 16 mandatory ones (Rinnai)
            kw = {
                "rc": 0,
                "version": "B",
                "vendor_id": rnd.randrange(0x10000),
                "device_type": rnd.choice((1, 2, 3, 0x1B)),
                "revision": rnd.randrange(100),
                "capability": rnd.choice((0, 0x40, 0x1FF)),
                "reserved": 0,
            }
            if rnd.random() < 0.75:
                kw.update(
                    model="HPWH-%05d" % rnd.randrange(100000),
                    serial="SN%014d" % rnd.randrange(10**14),
                    fw_year=rnd.randrange(15, 26),
                    fw_month=rnd.randrange(12),
                    fw_day=rnd.randrange(1, 29),
                    fw_major=rnd.randrange(10),
                    fw_minor=rnd.randrange(100),
                )
            ours = (enc, ("get_information", True), kw)
        fn, a, kw = ours
        items.append((kind, ours, theirs, fn(*a, **kw)))
    return items


def _check_mix(items, pcta):
    """Untimed sanity pass: both sides must build the same bodies and read every frame,
    or the timings compare different work. Problems are printed, not raised."""
    problems = []
    for kind, _, theirs, f in items:
        try:
            if theirs is not None:
                fn, a, kw = theirs
                if fn(*a, **kw).to_bytes() != f[:-2]:
                    problems.append("%s: PCTA builds a different body for %s" % (kind, f.hex()))
            if not message.decode(f).checksum_ok:
                problems.append("%s: bad checksum in %s" % (kind, f.hex()))
            pcta.app.decode(f[:-2])
        except Exception as e:
            problems.append("%s: %r on %s" % (kind, e, f.hex()))
    for p in problems[:10]:
        print("warning: " + p)
    if problems:
        print("warning: %d frames of the mix do not agree; the timings below are suspect" % len(problems))


def _rate(n, t):
    return n / t if t else float("inf")


@section("a", "CPython throughput: our codec vs PCTA (PyPI cta2045 0.1.0)")
def part_a(args):
    pcta = oracle.load()
    items = make_mix(args.frames, args.seed, pcta)
    _check_mix(items, pcta)
    frames = [it[3] for it in items]
    bodies = [f[:-2] for f in frames]  # PCTA works on header + payload, no checksum
    both = [(it[1], it[2]) for it in items if it[2] is not None]
    ours_enc = [o for o, _ in both]
    pcta_enc = [t for _, t in both]
    ours_enc_all = [it[1] for it in items]

    decode = message.decode
    pdecode = pcta.app.decode

    def ours_decode():
        for f in frames:
            decode(f)

    def ours_decode_nocheck():
        for f in frames:
            decode(f, False)

    def pcta_decode():
        for b in bodies:
            pdecode(b)

    def ours_encode(specs=ours_enc):
        for fn, a, kw in specs:
            fn(*a, **kw)

    def pcta_encode():
        for fn, a, kw in pcta_enc:
            fn(*a, **kw).to_bytes()

    # the same work as ours: PCTA plus the checksum it does not handle
    from cta2045.frame import checksum, valid

    pairs = list(zip(bodies, frames))

    def pcta_decode_ck():
        for b, f in pairs:
            pdecode(b)
            valid(f)

    def pcta_encode_ck():
        for fn, a, kw in pcta_enc:
            checksum(fn(*a, **kw).to_bytes())

    r = args.repeat
    t = {
        "ours_dec": best_of(r, ours_decode),
        "pcta_dec": best_of(r, pcta_decode),
        "ours_enc": best_of(r, ours_encode),
        "pcta_enc": best_of(r, pcta_encode),
        "ours_dec_nock": best_of(r, ours_decode_nocheck),
        "ours_enc_all": best_of(r, lambda: ours_encode(ours_enc_all)),
        "pcta_dec_ck": best_of(r, pcta_decode_ck),
        "pcta_enc_ck": best_of(r, pcta_encode_ck),
    }
    nd, ne = len(frames), len(both)

    counts = {}
    for it in items:
        counts[it[0]] = counts.get(it[0], 0) + 1
    print(
        "mix: %d frames, seed %d, best of %d; %s"
        % (nd, args.seed, r, ", ".join("%s %d" % (k, counts.get(k, 0)) for k, _ in MIX))
    )
    print("encode compares only the kinds PCTA can build (%d frames: basic_event, end_shed, app_ack," % ne)
    print("op_state, alu_set); PCTA has no encoder for commodity_reply or get_information.")
    print("decode: ours message.decode(frame) checks the checksum; PCTA app.decode(body) cannot.")
    print()
    rows = [
        ("decode", nd, t["ours_dec"], t["pcta_dec"]),
        ("encode", ne, t["ours_enc"], t["pcta_enc"]),
        ("combined", nd + ne, t["ours_dec"] + t["ours_enc"], t["pcta_dec"] + t["pcta_enc"]),
    ]
    print("%-10s %8s %14s %14s %10s" % ("", "frames", "ours frames/s", "PCTA frames/s", "ours/PCTA"))
    worst = None
    for name, n, to, tp in rows:
        ratio = tp / to
        worst = ratio if worst is None or ratio < worst else worst
        print("%-10s %8d %14.0f %14.0f %9.2fx" % (name, n, _rate(n, to), _rate(n, tp), ratio))
    print()
    print(
        "goal: ours >= %.0fx PCTA in each row: %s (lowest %.2fx)" % (GOAL, "met" if worst >= GOAL else "NOT met", worst)
    )
    print(
        "for reference: ours decode without the checksum check %.0f frames/s; ours encode of the"
        " whole mix %.0f frames/s" % (_rate(nd, t["ours_dec_nock"]), _rate(nd, t["ours_enc_all"]))
    )
    print(
        "same work (PCTA plus our checksum code, which it lacks): decode %.2fx, encode %.2fx"
        % (t["pcta_dec_ck"] / t["ours_dec"], t["pcta_enc_ck"] / t["ours_enc"])
    )
    if args.by_kind:
        _by_kind(items, pcta, r)
    return t


def _by_kind(items, pcta, r):
    # The same timings per kind of frame (where the time goes).
    decode = message.decode
    pdecode = pcta.app.decode
    print()
    print(
        "%-16s %7s %12s %12s %7s %12s %12s %7s"
        % ("by kind", "frames", "ours dec/s", "PCTA dec/s", "ratio", "ours enc/s", "PCTA enc/s", "ratio")
    )
    for kind, _ in MIX:
        sub = [it for it in items if it[0] == kind]
        if not sub:
            continue
        fr = [it[3] for it in sub]
        bo = [f[:-2] for f in fr]
        to = best_of(r, lambda: [decode(f) for f in fr])
        tp = best_of(r, lambda: [pdecode(b) for b in bo])
        eo = best_of(r, lambda: [fn(*a, **kw) for fn, a, kw in (it[1] for it in sub)])
        line = "%-16s %7d %12.0f %12.0f %6.2fx %12.0f" % (
            kind,
            len(sub),
            _rate(len(sub), to),
            _rate(len(sub), tp),
            tp / to,
            _rate(len(sub), eo),
        )
        if sub[0][2] is not None:
            ep = best_of(r, lambda: [fn(*a, **kw).to_bytes() for fn, a, kw in (it[2] for it in sub)])
            line += " %12.0f %6.2fx" % (_rate(len(sub), ep), ep / eo)
        else:
            line += " %12s %7s" % ("-", "-")
        print(line)


@section("b", "MicroPython: FrameReader heap allocation per byte and per frame")
def part_b(args):
    import json
    import subprocess

    script = os.path.join(ROOT, "tools", "mp_alloc.py")
    upy = os.environ.get("MICROPYTHON")
    if upy:
        cmd = [upy, script]
        env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "lib") + ":.frozen")
        where = "unix port " + upy
    else:
        cmd = ["node", os.path.join(ROOT, "host_tests", "run_micropython.mjs"), "--exec", script]
        env = None
        where = "WebAssembly port (npm @micropython/micropython-webassembly-pyscript)"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("could not run MicroPython: %s" % e)
        return None
    line = [x for x in proc.stdout.splitlines() if x.startswith("ALLOC ")]
    if proc.returncode or not line:
        print("MicroPython run failed:\n" + proc.stdout + proc.stderr)
        return None
    res = json.loads(line[0][6:])
    print("runtime: %s" % where)
    print("bytes fed that complete no frame:   %.2f B allocated per byte   (goal 0)" % res["bytes_per_byte_no_frame"])
    print(
        "stream fed one byte at a time:      %.1f B per complete frame (goal <= 64)" % res["bytes_per_frame_bytewise"]
    )
    print("stream fed in 64-byte chunks:       %.1f B per complete frame" % res["bytes_per_frame_chunks64"])
    print("  (%d frames, mean length %.1f B)" % (res["frames"], res["mean_frame_len"]))
    print(
        "per frame length: "
        + ", ".join(
            "%s B -> %.0f B" % (k, v)
            for k, v in sorted(res["bytes_per_frame_by_length"].items(), key=lambda kv: int(kv[0]))
        )
    )
    ok = res["bytes_per_byte_no_frame"] == 0 and res["bytes_per_frame_bytewise"] <= 64
    print("goal: %s" % ("met" if ok else "NOT met"))
    return res


# ----------------------------------------------------------------------------- parts c, d


def _wire_ms(n):
    return n * 10 * 1000 / 19200  # 8N1 at 19200 baud


def _rig(settings, sim_settings, trace=None):
    import tempfile

    from rig import Rig

    log = os.path.join(tempfile.mkdtemp(prefix="ucm-bench-"), "firmware.log")
    r = Rig(log, "bench-token", settings, sim_settings, trace=trace)
    r.wait_up(30)
    return r


@section("c", "sim: HTTP command -> App ACK latency against the protocol minimum")
def part_c(args):
    import statistics

    from ucm.settings import Settings

    s = Settings()
    sim_fast = {"t_ma_ms": 40, "reply_min_ms": s.t_ar_ms, "reply_max_ms": s.t_ar_ms, "discovery_ms": 0}
    quiet = ["confirm_state_ms=0", "poll_state_ms=0", "poll_energy_ms=0", "heartbeat_ms=3600000"]
    r = _rig(quiet, sim_fast)
    lat = []
    try:
        for i in range(args.commands):
            path, body = ("/api/dr/shed", {"duration_s": 600}) if i % 2 == 0 else ("/api/dr/end", {})
            time.sleep(0.4)  # let T_IM after the previous exchange pass
            t = time.perf_counter()
            code, res = r.api("POST", path, body)
            dt = (time.perf_counter() - t) * 1000
            if code != 200:
                print("command %d failed: %s %s" % (i, code, res))
                continue
            lat.append(dt)
    finally:
        r.close()
    if not lat:
        return None
    floor = _wire_ms(8) + 40 + _wire_ms(2) + s.t_ar_ms + _wire_ms(8)
    med = statistics.median(lat)
    worst = max(lat)
    print("commands: %d (shed / end alternating), simulated heater at the protocol minimum:" % len(lat))
    print("  ACK %d ms after our frame, App ACK T_AR = %d ms after its ACK" % (40, s.t_ar_ms))
    print("protocol minimum (8-byte wire + T_MA 40 + ACK wire + T_AR %d + 8-byte wire): %.1f ms" % (s.t_ar_ms, floor))
    print("median  %7.1f ms   %.2fx the minimum" % (med, med / floor))
    print("worst   %7.1f ms   %.2fx the minimum" % (worst, worst / floor))
    print("(a pty has no wire time, so the true floor here is %.1f ms lower)" % (2 * _wire_ms(8) + _wire_ms(2)))
    return {"median_ms": med, "worst_ms": worst, "floor_ms": floor}


@section("d", "sim: our link ACK timing (40-200 ms) while 20 clients poll /api/status")
def part_d(args):
    import threading

    events = []  # (sim clock ms, direction, data)

    def trace(direction, data, now):
        events.append((time.perf_counter() * 1000, direction, bytes(data)))

    r = _rig(["poll_state_ms=2000", "poll_energy_ms=3000"], {"discovery_ms": 4000, "discovery_jitter_ms": 500}, trace)
    stop = threading.Event()
    polls = [0]

    def client():
        while not stop.is_set():
            try:
                if r.api("GET", "/api/status", timeout=10)[0] == 200:
                    polls[0] += 1
            except OSError:
                pass

    threads = [threading.Thread(target=client, daemon=True) for _ in range(20)]
    events.clear()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    try:
        i = 0
        while time.perf_counter() - t0 < args.seconds:
            path, body = ("/api/dr/shed", {"duration_s": 600}) if i % 2 == 0 else ("/api/dr/end", {})
            r.api("POST", path, body)
            if i % 5 == 4:
                r.do(r.sim.set_override, i % 10 == 4)
            i += 1
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        elapsed = time.perf_counter() - t0
        r.close()
    delays = []
    ev = list(events)
    for k, (t, d, data) in enumerate(ev):
        if d != "out" or len(data) <= 2:
            continue
        for t2, d2, data2 in ev[k + 1 :]:
            if d2 == "in" and len(data2) == 2:
                delays.append(t2 - t)  # a pty has no wire time: the frame ends as written
                break
    if not delays:
        print("no ACKs seen")
        return None
    inside = sum(1 for x in delays if 40 <= x <= 200)
    delays.sort()
    frames = sum(1 for _, d, data in ev if d == "out" and len(data) > 2)
    print(
        "%.0f s, %d status polls answered (%.0f/s), %d heater frames, %d link ACKs measured"
        % (elapsed, polls[0], polls[0] / elapsed, frames, len(delays))
    )
    print(
        "ACK delay after the heater's frame: min %.1f, median %.1f, max %.1f ms"
        % (delays[0], delays[len(delays) // 2], delays[-1])
    )
    print("inside 40-200 ms: %d of %d = %.1f %% (goal 100 %%)" % (inside, len(delays), 100.0 * inside / len(delays)))
    return {"share": inside / len(delays)}


# ----------------------------------------------------------------------------- part e

LINE_RATE = 19200 / 11  # characters per second on the 9-bit bus
NINEBIT_CHUNK = 32  # plain mode: bytes per feed, like a UART receive buffer read

# Runs under MicroPython and CPython alike (part e writes it to a file and starts it);
# prints one line "NINEBIT {json}".
NINEBIT_SCRIPT = """
import gc
import json
import sys
import time
from array import array

from ninebit import frame as F
from ninebit.reader import Reader
from ninebit_vectors import ORDER, golden

if sys.implementation.name == "micropython":
    def start():
        return time.ticks_us()

    def since(t0):
        return time.ticks_diff(time.ticks_us(), t0)
else:
    def start():
        return time.perf_counter()

    def since(t0):
        return (time.perf_counter() - t0) * 1e6


def alloc(fn):
    # heap bytes allocated by fn(), collector off (None where gc.mem_alloc is missing)
    if not hasattr(gc, "mem_alloc"):
        return None
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    fn()
    a1 = gc.mem_alloc()
    gc.enable()
    return a1 - a0


def measure(rounds, chunk, repeat):
    frames = [golden(n) for n in ORDER]
    one = []
    for f in frames:
        one += F.symbols(f)
    syms = array("H", one * rounds)
    stream = b"".join(frames) * rounds
    mv = memoryview(stream)
    chunks = [mv[i:i + chunk] for i in range(0, len(stream), chunk)]
    part_syms = array("H", F.symbols(frames[1])[:-1])  # frame B without its checksum
    part_bytes = frames[1][:-1]
    part_chunks = [part_bytes[i:i + chunk] for i in range(0, len(part_bytes), chunk)]
    seen = [0, 0]

    def on_frame(f, now):
        seen[0] += 1

    def on_error(kind, data, now):
        seen[1] += 1

    out = {"symbols": len(syms), "frames_fed": rounds * len(frames)}
    for mode in ("flagged", "plain"):
        r = Reader(on_frame, on_error, mode == "flagged")
        if mode == "flagged":
            def run():
                r.feed_symbols(syms, 0)
                r.flush(0)

            def partial():
                r.feed_symbols(part_syms, 0)
        else:
            def run():
                for c in chunks:
                    r.feed(c, 0)
                r.flush(0)

            def partial():
                for c in part_chunks:
                    r.feed(c, 0)
        best = None
        for _ in range(repeat):
            seen[0] = seen[1] = 0
            gc.collect()
            t0 = start()
            run()
            dt = since(t0)
            best = dt if best is None or dt < best else best
        frames_seen, errors_seen = seen[0], seen[1]
        heap = alloc(run)
        heap_partial = alloc(partial)
        r.flush(0)
        out[mode] = {"us": best, "frames": frames_seen, "errors": errors_seen, "heap": heap,
                     "heap_no_frame": heap_partial, "no_frame_symbols": len(part_syms)}
    return out


print("NINEBIT " + json.dumps(measure(ROUNDS, CHUNK, REPEAT)))
"""


def _run_ninebit(cmd, env, script):
    import json
    import subprocess

    try:
        proc = subprocess.run(cmd + [script], capture_output=True, text=True, env=env, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "could not run %s: %s" % (cmd[0], e)
    line = [x for x in proc.stdout.splitlines() if x.startswith("NINEBIT ")]
    if proc.returncode or not line:
        return None, "run failed:\n" + proc.stdout + proc.stderr
    return json.loads(line[0][8:]), None


@section("e", "9-bit bus Reader: symbols/s against the line rate, heap per symbol (MicroPython, CPython)")
def part_e(args):
    import tempfile

    lib = os.path.join(ROOT, "lib")
    portable = os.path.join(ROOT, "host_tests", "portable")
    fd, script = tempfile.mkstemp(prefix="bench-ninebit-", suffix=".py")
    with os.fdopen(fd, "w") as f:
        f.write("ROUNDS, CHUNK, REPEAT = %d, %d, %d\n" % (args.rounds, NINEBIT_CHUNK, args.repeat) + NINEBIT_SCRIPT)
    upy = os.environ.get("MICROPYTHON")
    if upy:
        mp = (
            [upy],
            dict(os.environ, MICROPYPATH=lib + ":" + portable + ":.frozen"),
            "MicroPython (unix port %s)" % upy,
        )
    else:
        mp = (
            ["node", os.path.join(ROOT, "host_tests", "run_micropython.mjs"), "--exec"],
            None,
            "MicroPython (WebAssembly port)",
        )
    cpy = (
        [sys.executable],
        dict(os.environ, PYTHONPATH=lib + os.pathsep + portable),
        "CPython %s" % platform.python_version(),
    )
    results = []
    try:
        for cmd, env, label in (mp, cpy):
            res, err = _run_ninebit(cmd, env, script)
            if err:
                print("%s: %s" % (label, err))
            else:
                results.append((label, res))
    finally:
        os.unlink(script)
    if not results:
        return None
    res0 = results[0][1]
    print(
        "stream: the seven golden frames x %d = %d symbols, %d frames; best of %d, collector on"
        % (args.rounds, res0["symbols"], res0["frames_fed"], args.repeat)
    )
    print("flagged: Reader.feed_symbols(array of symbols); plain: Reader.feed(bytes) in %d-byte chunks" % NINEBIT_CHUNK)
    print("line rate: 19200 baud / 11 bits = %.0f characters/s" % LINE_RATE)
    print()
    print(
        "%-30s %-8s %11s %12s %14s %13s %14s"
        % ("runtime", "mode", "symbols/s", "x line rate", "heap B/symbol", "heap B/frame", "B/sym no frame")
    )
    out = {}
    for label, res in results:
        for mode in ("flagged", "plain"):
            m = res[mode]
            rate = _rate(res["symbols"], m["us"] / 1e6)
            if m["frames"] != res["frames_fed"] or m["errors"]:
                print(
                    "warning: %s %s saw %d frames and %d errors, not %d and 0"
                    % (label, mode, m["frames"], m["errors"], res["frames_fed"])
                )
            if m["heap"] is None:
                per_sym = per_frame = no_frame = "-"
            else:
                per_sym = "%.2f" % (m["heap"] / res["symbols"])
                per_frame = "%.1f" % (m["heap"] / res["frames_fed"])
                no_frame = "%.2f" % (m["heap_no_frame"] / m["no_frame_symbols"])
            print(
                "%-30s %-8s %11.0f %11.1fx %14s %13s %14s"
                % (label, mode, rate, rate / LINE_RATE, per_sym, per_frame, no_frame)
            )
            out[(label, mode)] = rate
    print("(heap: gc.mem_alloc() deltas with the collector off; CPython has no such counter. B/sym no frame:")
    print(
        " frame B's %d symbols without its checksum, so no frame completes. Measured on this PC, not a board.)"
        % (res0["flagged"]["no_frame_symbols"])
    )
    return out


# ----------------------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description="codec benchmarks (measure only)")
    ap.add_argument("--only", help="comma-separated section names to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the sections and exit")
    ap.add_argument("--frames", type=int, default=12000, help="frames in the part a mix (default 12000)")
    ap.add_argument("--seed", type=int, default=2045, help="seed of the part a mix (default 2045)")
    ap.add_argument("--repeat", type=int, default=5, help="repeats per timing, best is kept (default 5)")
    ap.add_argument("--commands", type=int, default=40, help="part c: commands timed (default 40)")
    ap.add_argument("--seconds", type=float, default=20, help="part d: seconds of load (default 20)")
    ap.add_argument("--by-kind", action="store_true", help="part a: also time each kind of frame on its own")
    ap.add_argument(
        "--rounds", type=int, default=200, help="part e: copies of the seven golden frames fed (default 200)"
    )
    args = ap.parse_args(argv)
    if args.list:
        for name, title, _ in SECTIONS:
            print("%-4s %s" % (name, title))
        return 0
    names = [s[0] for s in SECTIONS]
    only = names if not args.only else [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = [x for x in only if x not in names]
    if unknown:
        ap.error("unknown section %s (have: %s)" % (", ".join(unknown), ", ".join(names)))
    print("bench: %s %s on %s" % (platform.python_implementation(), platform.python_version(), platform.machine()))
    for name, title, fn in SECTIONS:
        if name in only:
            print()
            print("== %s: %s" % (name, title))
            fn(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
