# A hostile or broken heater on a fake clock: floods of 0x08 (every byte a header with
# an oversize length), random bytes, oversize lengths, customer-override and
# GetInformation floods. What it may cost is bounded: NAKs (one per burst of failures),
# owed ACK/NAKs and owed answers (fixed-size), the frame log, the heap; the link says
# "flooded" meanwhile and recovers at once when the line is sane. Also under MicroPython.

from ucm_harness import Bench, wire_ms

from cta2045.frame import ACK, build
from cta2045.message import encode
from ucm import link

import gc
import sys

# the heap in use, where a collection frees what is unreachable: MicroPython's unix port
# (CPython has no counter; the WebAssembly port cannot scan the JavaScript-side stack, so
# its figure after a collection still holds garbage)
_heap = getattr(gc, "mem_alloc", None) if sys.platform != "webassembly" else None

OP_STATE = build(0x0801, bytes((0x13, 0x02)))  # an unsolicited operational state: the SGD is sane again


def _rand(seed):
    # xorshift32: the same bytes under CPython and MicroPython
    x = seed

    def byte():
        nonlocal x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        return x & 0xFF

    return byte


def _flood(b, chunks, watch=None):
    """Deliver the chunks back to back on the wire (each wire-time after the previous),
    running the engine meanwhile; watch(b) is called after every chunk."""
    t = b.now
    for c in chunks:
        b.send(c, at=t)
        t += wire_ms(len(c))
    for c in chunks:
        b.run(wire_ms(len(c)))
        if watch:
            watch(b)
    b.run(max(0, t - b.now) + 1)


def _requests(b, frame, n):
    """n copies of frame from the SGD, back to back on the wire, the bounds checked as
    they arrive; then time for every answer."""
    for i in range(n):
        b.send(frame, at=b.now + i * wire_ms(len(frame)))
        if i % 20 == 0:
            b.run(1)
            _owed(b)
    b.run(wire_ms(len(frame)) * n + 10)
    _owed(b)


def _owed(b):
    lk = b.e.link
    assert len(lk._ctl) <= link.MAX_OWED and len(lk._replies) <= link.MAX_REPLIES


def _recovers(b, since):
    """A sane frame after the flood is link-ACKed 40-200 ms after its last byte."""
    t = b.now
    b.send(OP_STATE)
    end = t + wire_ms(len(OP_STATE))
    b.run(1000)
    acks = [(at, d) for at, d in b.sgd.got if at > end and d == ACK]
    assert acks, [d for _, d in b.sgd.got if _ > since][-5:]
    d = acks[0][0] - wire_ms(2) - end
    assert 40 <= d <= 200, d
    assert b.e.link.health()[0] == "ok"


def _naks(b, since):
    return [d for t, d in b.sgd.got if t > since and len(d) == 2 and d[0] == 0x15]


def test_a_stream_of_0x08_costs_one_nak_not_one_per_byte():
    b = Bench(max_step_ms=5).up()
    t0 = b.now
    heap0 = None
    if _heap:
        gc.collect()
        heap0 = _heap()
    log0 = b.e._log_n
    _flood(b, [b"\x08" * 256] * 80, _owed)  # 20,480 bytes
    assert b.e.c["oversize"] > 20000
    naks = _naks(b, t0)
    assert 1 <= len(naks) <= 2, len(naks)  # the reader yields one burst (or two, split by a timeout)
    assert b.e.c["naks_suppressed"] > 20000
    assert b.e._log_n - log0 <= 4  # the frame log got a line, not 20,000
    assert b.e.link.health()[0] == "flooded"
    assert b.e.status(b.now)["link"]["health"] == "flooded"
    if _heap:
        gc.collect()
        assert _heap() - heap0 < 4096, _heap() - heap0
    _recovers(b, t0)


def test_random_bytes_cost_bounded_answers_and_the_link_recovers():
    b = Bench(max_step_ms=5).up()
    t0 = b.now
    rnd = _rand(12345)
    chunks = [bytes(rnd() for _ in range(200)) for _ in range(50)]  # 10 KB of noise
    _flood(b, chunks, _owed)
    failures = b.e.c["oversize"] + b.e.c["checksum_errors"] + b.e.c["rx_timeouts"]
    assert len(_naks(b, t0)) <= 1 + failures // 8  # far fewer answers than failures
    b.run(1000)  # let a held partial frame time out
    _recovers(b, t0)


def test_oversize_lengths_each_answered_at_most_once_per_burst():
    b = Bench(max_step_ms=5).up()
    t0 = b.now
    frame = bytes((0x08, 0x02, 0x7F, 0xFF)) + bytes(60)  # LEN 32767: over any max payload
    _flood(b, [frame] * 100, _owed)
    assert len(_naks(b, t0)) <= 2
    _recovers(b, t0)


def test_an_override_flood_owes_a_bounded_number_of_answers_and_commands_go_through():
    b = Bench(max_step_ms=5).up()
    _requests(b, encode("customer_override", override=1), 1000)  # 1,000 frames in about 4 s
    assert b.e.c["replies_dropped"] > 0 or b.e.c["owed_dropped"] > 0
    b.run(2000)  # the flood is over: the few answers still owed go out
    tx = b.wait(b.submit("shed", duration_s=60), 10000)
    assert tx.result == "ack", tx.result
    app_acks = [d for _, d in b.sgd.got if len(d) > 2 and d[4] == 0x03]
    assert len(app_acks) <= 1000  # never more answers than requests, stale ones dropped
    assert b.e.override


def test_a_getinformation_flood_owes_a_bounded_number_of_answers():
    b = Bench(max_step_ms=5).up()
    _requests(b, encode("get_information"), 200)
    b.run(3000)
    answers = [d for _, d in b.sgd.got if len(d) > 8 and d[:2] == b"\x08\x02"]
    assert len(answers) < 200


def test_a_restart_drops_what_the_link_owed():
    b = Bench(max_step_ms=5).up()
    lk = b.e.link
    b.send(b"\x08" * 10 + encode("get_information"))
    b.run(wire_ms(30))
    lk._answer(0)
    assert lk._ctl or lk._replies or lk.reader.partial_age(b.now) >= 0
    lk.restart()
    assert not lk._ctl and not lk._replies and lk.reader.partial_age(b.now) < 0
    assert b.e.c["link_restarts"] == 1
    _recovers(b, b.now)


def test_a_heater_that_stops_answering_shows_no_answer_before_the_link_goes_down():
    b = Bench(max_step_ms=5).up()
    b.sgd.silent = True
    b.submit("shed", duration_s=60)
    assert b.run(5000, lambda: b.e.link.health()[0] == "no_answer")
    st = b.e.status(b.now)["link"]
    assert st["health"] == "no_answer" and "without a link ACK" in st["health_why"]


def test_a_stray_max_payload_frame_does_not_shrink_the_link_for_good():
    # one unsolicited "max payload 0x00" (2 bytes) used to cap every later command at
    # 2 bytes until the next renegotiation: only the answer to our own query counts
    b = Bench(max_step_ms=5).up()
    assert b.e.link.peer_max == 64
    seen = len(b.sgd.got)
    b.send(encode("max_payload", code=0))
    b.run(1000)
    assert ACK in [d for _, d in b.sgd.got[seen:]]  # ACKed, as any valid frame
    assert b.e.link.peer_max == 64
    tx = b.submit("advanced_load_up", duration_min=60, value=5, units="100Wh")  # 7-byte payload
    b.wait(tx)
    assert tx.result == "reply"
    b.e.link.peer_max = 2  # an idle reset, then the SGD's real answer sets it again
    b.e._startup(b.now)
    b.run(20000, lambda: b.e.state == "up")
    assert b.e.link.peer_max == 64
