# The firmware process against a hostile heater on a real pty: floods of 0x08 bytes
# (each a header with an oversize length) and of random bytes, with the simulated heater
# still on the line; floods of valid frames that each want an answer, oversize lengths
# and a stray "max payload 0x00". Under MicroPython's unix port (the .mpy deploy tree, a device-sized
# heap) and under CPython: HTTP answers throughout, the heap stays bounded, the firmware
# sends a handful of NAKs rather than one per byte, /api/status says "flooded", and once
# the line is sane a command goes through within seconds.
import os
import random
import sys
import time

import pytest

import mpunix

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import ram  # noqa: E402
import rig  # noqa: E402

TOKEN = "hostile-token-1"
HEAP = 256 * 1024  # the 64-bit port's heap that stands for a Pico W's (README: Tests)
FLOOD_S = 6


@pytest.fixture(params=["micropython", "cpython"])
def firmware(request, tmp_path):
    if request.param == "micropython":
        binary = mpunix.binary()
        tree, _ = ram.stage()
        r = rig.Rig(str(tmp_path / "fw.log"), TOKEN, start=ram.starter(binary, tree, HEAP))
    else:
        import sim as launcher

        def start(serial, http_port, token, log):
            return launcher.start_firmware(serial, "127.0.0.1", http_port, token, True, micropython=None, stdout=log)

        r = rig.Rig(str(tmp_path / "fw.log"), TOKEN, start=start)
    r.kind = request.param
    try:
        r.wait_up(timeout=40)
        yield r
    finally:
        r.close()


def _write(r, data):
    # straight onto the heater's end of the pty, as fast as the firmware takes it
    view = memoryview(data)
    while view:
        try:
            n = os.write(r.port.fd, view)
            view = view[n:]
        except BlockingIOError:
            time.sleep(0.002)


def _flood(r, make_chunk):
    """FLOOD_S seconds of hostile bytes; /api/status polled meanwhile. Returns (bytes
    sent, the status answers' times, the statuses)."""
    sent = 0
    end = time.monotonic() + FLOOD_S
    times, seen = [], []
    next_poll = 0
    while time.monotonic() < end:
        chunk = make_chunk()
        _write(r, chunk)
        sent += len(chunk)
        if time.monotonic() >= next_poll:
            t0 = time.monotonic()
            code, st = r.api("GET", "/api/status", timeout=10)
            times.append(time.monotonic() - t0)
            assert code == 200, st
            seen.append(st)
            next_poll = time.monotonic() + 0.5
    return sent, times, seen


def _recovers(r):
    """After the flood: a DR command is acknowledged within seconds."""
    t0 = time.monotonic()
    code, res = r.api("POST", "/api/dr/shed", {"duration_s": 60}, timeout=30)
    deadline = t0 + 20
    while code != 200 and time.monotonic() < deadline:  # the link may be renegotiating
        time.sleep(0.5)
        code, res = r.api("POST", "/api/dr/shed", {"duration_s": 60}, timeout=30)
    assert code == 200, res
    assert r.api("POST", "/api/dr/end", {})[0] == 200
    return time.monotonic() - t0


def _check(r, sent, times, seen, naks_before):
    fw = [s.get("firmware") or {} for s in seen]
    c = seen[-1]["counters"]
    assert any(s["link"]["health"] == "flooded" for s in seen), [s["link"]["health"] for s in seen]
    assert max(times) < 5, times  # HTTP kept answering throughout
    naks = r.do(lambda: sum(r.sim.naks_in.values())) - naks_before
    assert naks < 50 and naks * 100 < sent, (naks, sent)  # a handful of NAKs, not one per byte
    assert c["naks_suppressed"] > 0
    if r.kind == "micropython":
        used = [f["mem_alloc"] for f in fw if f.get("mem_alloc")]
        assert used and max(used) - min(used) < 64 * 1024, used  # bounded heap
        assert sum(t["restarts"] for t in fw[-1]["tasks"].values()) == 0, fw[-1]["tasks"]
    assert r.proc.poll() is None


def test_a_stream_of_0x08_bytes(firmware):
    r = firmware
    naks0 = r.do(lambda: sum(r.sim.naks_in.values()))
    sent, times, seen = _flood(r, lambda: b"\x08" * 4096)
    _check(r, sent, times, seen, naks0)
    took = _recovers(r)
    assert took < 20
    print(
        "%s: %d bytes of 0x08 in %d s, status answered in at most %.2f s, recovered in %.1f s"
        % (r.kind, sent, FLOOD_S, max(times), took)
    )


def test_random_bytes(firmware):
    r = firmware
    rnd = random.Random(7)
    naks0 = r.do(lambda: sum(r.sim.naks_in.values()))
    sent, times, seen = _flood(r, lambda: bytes(rnd.getrandbits(8) for _ in range(2048)))
    assert max(times) < 5, times
    assert r.proc.poll() is None
    naks = r.do(lambda: sum(r.sim.naks_in.values())) - naks0
    assert naks * 20 < sent, (naks, sent)
    took = _recovers(r)
    assert took < 20


def test_override_and_information_floods_oversize_lengths_and_a_stray_max_payload(firmware):
    # valid frames the UCM must answer (customer override: an App ACK each;
    # GetInformation: our information reply each) and headers whose length is over any
    # max payload, mixed, back to back: the answers owed stay bounded, HTTP answers, and
    # a command goes through at once after. Then one "max payload 0x00" from the heater:
    # Intermediate commands still go out (only the answer to our own query counts).
    sys.path.insert(0, os.path.join(ROOT, "lib"))
    from cta2045.message import encode

    r = firmware
    burst = (
        encode("customer_override", override=1) * 10
        + encode("get_information") * 5
        + encode("customer_override", override=0) * 10
        + b"\x08\x01\xff\xff" * 40
    )
    sent, times, seen = _flood(r, lambda: burst)
    assert max(times) < 5, times
    assert r.proc.poll() is None
    c = seen[-1]["counters"]
    assert c["owed_dropped"] + c["replies_dropped"] > 0, c  # the queues were full and stayed bounded
    if r.kind == "micropython":
        fw = seen[-1]["firmware"]
        assert sum(t["restarts"] for t in fw["tasks"].values()) == 0, fw["tasks"]
    took = _recovers(r)
    assert took < 20
    code, st = r.api("GET", "/api/status")
    peer_max = st["link"]["peer_max_payload"]
    assert peer_max >= 64
    os.write(r.port.fd, encode("max_payload", code=0))
    time.sleep(1.5)
    code, st = r.api("GET", "/api/status")
    assert st["link"]["peer_max_payload"] == peer_max
    code, res = r.api("GET", "/api/sgd/info?refresh=1", timeout=30)
    assert code == 200 and res["refresh"]["result"] == "reply", res
    print(
        "%s: %d bytes of frames in %d s, status answered in at most %.2f s, recovered in %.1f s"
        % (r.kind, sent, FLOOD_S, max(times), took)
    )
