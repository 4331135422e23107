# A simulated week of protocol on the fake clock: the engine against the scripted SGD
# with what a heater's life brings, day after day: the SGD's discovery bursts (as after
# each of its reboots), DR commands and their ends, information and energy reads, the
# periodic polls and heartbeat, a 5-minute silence that takes the link down and a
# 20-minute one that also runs the 15-minute idle reset. After every simulated hour the
# heap in use is sampled after gc.collect() (gc.mem_alloc() on the MicroPython unix
# port; heap() says where there is no such figure). Used by test_long_run.py (a day,
# every runtime) and host_tests/test_week_unix.py (the week, unix port, small heap).

import gc
import sys

from checks import h, rows
from ucm_harness import Bench, Sgd

from cta2045.message import encode

HOUR = 3600000
BURST = [encode("type_supported_query", mt=m) for m in (0x0801, 0x0802, 0x0803)]
BURST.append(h("08 03 00 02 18 00 BA 75"))  # max-payload query
COMMANDS = (
    ("shed", {"duration_s": 1800}),
    ("end", {}),
    ("load_up", {"duration_s": 3600}),
    ("refresh_info", {}),
    ("refresh_energy", {}),
    ("critical_peak", {"duration_s": None}),
    ("end", {}),
    ("grid_guidance", {"guidance": "good"}),
)


def heap():
    """Heap bytes in use after a collection; None where the runtime gives no usable
    figure: CPython, and the WebAssembly port, whose collection inside a running script
    keeps garbage that the unix port frees (hourly samples spread over 5 MB there)."""
    if not hasattr(gc, "mem_alloc") or sys.platform == "webassembly":
        return None
    gc.collect()
    return gc.mem_alloc()


def _burst(b):
    for f in rows(BURST):
        b.send(f)
        b.run(1000)


def _hour(b, k, results):
    # one simulated hour; the k-th of the run picks what happens in it
    h = k % 24
    if h == 3:  # the SGD restarts: a discovery burst every 22 s for two minutes
        for _ in range(6):
            _burst(b)
            b.run(18000)
    elif h in (7, 12, 17, 21):
        for kind, args in COMMANDS[(k // 24 + h) % 4 * 2 :][:2]:
            tx = b.submit(kind, **args)
            b.run(20000, lambda: tx.done)
            results[tx.result] = results.get(tx.result, 0) + 1
    elif h == 10:  # silent for 5 minutes: requests go unanswered, the link goes down
        b.sgd.silent = True
        b.run(5 * 60000)
        b.sgd.silent = False
    elif h == 15:  # silent for 20 minutes: also the idle reset
        b.sgd.silent = True
        b.run(20 * 60000)
        b.sgd.silent = False
    b.run(HOUR - b.now % HOUR)
    # the harness's own record of the wire: cleared, so that samples show the engine's
    b.sgd.forget()


def run(hours, report=None):
    """Run `hours` simulated hours; returns (samples: the heap in use after each hour,
    bench, command results by outcome)."""
    # the harness's own allocations are made up front and kept small (its record of
    # the wire, the samples as small ints), so that the samples show the engine's heap
    samples = [None] * hours
    results = {}
    for r in ("ack", "reply", "app_nak", "rc_error", "timeout", "no_ack", "link_down", "unsupported", "link_nak"):
        results[r] = 0
    b = Bench(Sgd(keep=64), max_step_ms=60000).up()
    b.run(HOUR - b.now % HOUR)
    for k in range(hours):
        _hour(b, k, results)
        samples[k] = heap()
        if report and (k + 1) % 24 == 0:
            report("day %d: heap %s, link %s, %s" % ((k + 1) // 24, samples[k], b.e.state, results))
    return samples, b, results


def check(samples, b, results, warmup=24, bound=1024):
    """The rules of a long run: the heap in use after the first `warmup` hours stays
    within `bound` bytes (max - min), and does not creep (the last day's highest sample
    no higher than the first day's after warm-up plus a quarter of the bound); the link
    is up; commands got their outcomes and the SGD's bursts were answered. Returns the
    spread (None where the runtime has no heap figure)."""
    e = b.e
    assert e.state == "up", e.state
    assert results["ack"] + results["reply"] > 0, results
    assert e.c["mtsq_in"] > 0 and e.c["link_downs"] > 0 and e.c["idle_resets"] > 0, e.c
    # loops, no slices: in a small heap a copy of the samples may not find a block
    lo = hi = None
    for k in range(warmup, len(samples)):
        v = samples[k]
        if v is not None:
            lo = v if lo is None or v < lo else lo
            hi = v if hi is None or v > hi else hi
    if lo is None:
        return None
    assert hi - lo <= bound, "heap spread %d B (%d..%d) after hour %d" % (hi - lo, lo, hi, warmup)
    n = len(samples) - warmup
    day = 24 if n >= 48 else max(1, n // 2)
    first = max(samples[k] for k in range(warmup, warmup + day))
    last = max(samples[k] for k in range(len(samples) - day, len(samples)))
    assert last <= first + bound // 4, "heap creeps: %d B after day one, %d B at the end" % (first, last)
    return hi - lo
