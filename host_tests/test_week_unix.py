# A simulated week of protocol (host_tests/portable/long_run.py: discovery bursts,
# commands, polls, silences, idle resets) under MicroPython's unix port, from .mpy files
# as on a board, in a small fixed heap: the heap in use after gc.collect() stays flat.
import json
import os
import subprocess
import sys

import mpunix

ROOT = mpunix.ROOT
# 128 KB on the 64-bit unix port, about 88 KB of a 32-bit MCU's heap (objects cost
# ~1.45x there): the codec, the engine and the harness as .mpy take ~85 KB of it
HEAP = "128k"
DAYS = 7
BOUND = 1024  # bytes: the largest spread allowed of the hourly samples after day one

SCRIPT = """
import json, long_run
s, b, r = long_run.run(%d)
spread = long_run.check(s, b, r, 24, %d)
for v in s:
    print(v)
print(json.dumps({"results": r, "counters": b.e.c, "state": b.e.state, "spread": spread}))
"""


def test_a_week_in_a_small_heap_is_flat(tmp_path):
    mp = mpunix.binary()
    portable = os.path.join(ROOT, "host_tests", "portable")
    src = mpunix.lib_sources() + [
        (m + ".mpy", os.path.join(portable, m + ".py")) for m in ("checks", "ucm_harness", "long_run")
    ]
    mpunix.compile_tree(str(tmp_path / "lib"), src)
    env = dict(os.environ, MICROPYPATH=str(tmp_path / "lib") + ":.frozen")
    r = subprocess.run(
        [mp, "-X", "heapsize=" + HEAP, "-c", SCRIPT % (DAYS * 24, BOUND)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    out = json.loads(lines[-1])
    samples = [int(v) for v in lines[:-1]]
    assert len(samples) == DAYS * 24
    c = out["counters"]
    assert out["state"] == "up" and c["mtsq_in"] == 6 * 3 * DAYS and c["idle_resets"] >= DAYS
    print(
        "\nweek under the unix port, heap %s: in use %d..%d B after day one (spread %d B, bound %d B); "
        "results %s; link downs %d, idle resets %d"
        % (
            HEAP,
            min(samples[24:]),
            max(samples[24:]),
            out["spread"],
            BOUND,
            out["results"],
            c["link_downs"],
            c["idle_resets"],
        ),
        file=sys.stderr,
    )
