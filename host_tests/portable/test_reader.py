# FrameReader: any chunking, resync on junk, bad checksum, oversize, T_ML expiry and
# partial-frame age, no allocation per byte (PROTOCOL.md sections 2.2 and 2.3).

import gc

from checks import MICROPYTHON, Events, Lcg, h, rows
from vectors import ALL_VALID, BAD_CHECKSUM

from cta2045 import frame
from cta2045.frame import (
    EV_ACK,
    EV_BAD_CHECKSUM,
    EV_FRAME,
    EV_JUNK,
    EV_NAK,
    EV_OVERSIZE,
    EV_TIMEOUT,
    FrameReader,
)

STREAM = [h(t) for t, _, _ in ALL_VALID]


def _stream():
    out = b""
    for f in rows(STREAM, 3):
        out += f + frame.ACK
    return out


def _expected():
    out = []
    for f in rows(STREAM, 3):
        out.append((EV_FRAME, f))
        out.append((EV_ACK, 0))
    return out


def test_whole_stream_in_one_chunk():
    ev = Events()
    FrameReader(ev).feed(_stream())
    assert ev.items == _expected()


def test_one_byte_at_a_time():
    ev = Events()
    r = FrameReader(ev)
    s = _stream()
    for i in range(len(s)):
        r.feed(s[i : i + 1])
    assert ev.items == _expected()


def test_random_chunkings():
    s = _stream()
    rnd = Lcg(7)
    for _ in range(20):
        ev = Events()
        r = FrameReader(ev)
        i = 0
        while i < len(s):
            n = 1 + rnd.below(40)
            r.feed(s[i : i + n])
            i += n
        assert ev.items == _expected()


def test_count_feeds_a_partly_filled_buffer():
    # a receive buffer filled part-way, as a port's readinto leaves it: the stale tail
    # (0xEE) beyond count must not be read
    s = _stream()
    rnd = Lcg(11)
    ev = Events()
    r = FrameReader(ev)
    buf = bytearray(48)
    i = 0
    while i < len(s):
        n = min(len(s) - i, 1 + rnd.below(48))
        for k in range(len(buf)):
            buf[k] = 0xEE
        buf[:n] = s[i : i + n]
        r.feed(buf, 0, n)
        i += n
    assert ev.items == _expected()


def test_nak_codes_and_stray_link_bytes():
    ev = Events()
    r = FrameReader(ev)
    # 15 0A is no NAK (codes are 0..7) and 06 01 no ACK: junk, then a real frame
    r.feed(h("15 05 15 07 15 0A 06 01 06 00") + STREAM[0])
    r.flush()
    assert ev.items == [
        (EV_NAK, 5),
        (EV_NAK, 7),
        (EV_JUNK, h("15 0A 06 01")),
        (EV_ACK, 0),
        (EV_FRAME, STREAM[0]),
    ]


def test_junk_before_between_and_after_frames_is_reported():
    ev = Events()
    r = FrameReader(ev)
    r.feed(h("FF 00 41") + STREAM[6] + h("AA BB") + STREAM[0] + h("CC"))
    r.flush()
    assert ev.items == [
        (EV_JUNK, h("FF 00 41")),
        (EV_FRAME, STREAM[6]),
        (EV_JUNK, h("AA BB")),
        (EV_FRAME, STREAM[0]),
        (EV_JUNK, h("CC")),
    ]
    assert r.junk_bytes == 6


def test_bad_checksum_is_reported_then_the_stream_resyncs():
    ev = Events()
    r = FrameReader(ev)
    r.feed(h(BAD_CHECKSUM) + STREAM[6])
    assert ev.items == [(EV_BAD_CHECKSUM, h(BAD_CHECKSUM)), (EV_FRAME, STREAM[6])]


def test_frame_hidden_behind_a_fake_header_is_found():
    # 08 02 00 40 claims 64 bytes: the frames after it must still come out once the
    # fake candidate fails (here: its checksum, once 70 bytes are in)
    ev = Events()
    r = FrameReader(ev)
    tail = STREAM[6] * 9
    r.feed(h("08 02 00 40") + tail)
    frames = ev.of(EV_FRAME)
    assert len(ev.of(EV_BAD_CHECKSUM)) == 1
    assert frames == [STREAM[6]] * 9


def test_expire_gives_up_a_partial_and_rescans():
    ev = Events()
    r = FrameReader(ev)
    r.feed(h("08 02 00 40") + STREAM[6], now=1000)
    assert ev.items == []  # still waiting for the 70 bytes the header promised
    assert r.partial_age(1499) == 499
    r.expire()
    assert ev.items == [(EV_TIMEOUT, h("08 02 00 40") + STREAM[6]), (EV_FRAME, STREAM[6])]
    assert r.partial_age(2000) == -1


def test_partial_age_counts_from_the_first_byte_and_wraps():
    r = FrameReader(Events())
    assert r.partial_age(5) == -1
    r.feed(h("08 01"), now=(1 << 30) - 100)
    r.feed(h("00"), now=(1 << 30) - 10)
    assert r.partial_age(400) == 500  # ticks_ms wrapped at 2**30
    r.feed(h("02 01 11 E9 4E"), now=450)
    assert r.partial_age(460) == -1


def test_oversize_length_is_reported():
    ev = Events()
    r = FrameReader(ev, max_payload=64)
    big = frame.build(0x0802, bytes(65))
    r.feed(big + STREAM[0])
    assert ev.of(EV_OVERSIZE) == [65]
    assert ev.of(EV_FRAME) == [STREAM[0]]
    ok = frame.build(0x0802, bytes(64))
    ev2 = Events()
    FrameReader(ev2, max_payload=64).feed(ok)
    assert ev2.items == [(EV_FRAME, ok)]


def test_large_frames_up_to_max_payload():
    ev = Events()
    r = FrameReader(ev, max_payload=256)
    frames = [frame.build(0x0802, bytes((i & 0xFF,)) * n) for i, n in enumerate((256, 255, 1, 200, 256))]
    data = b"".join(frames)
    for i in range(0, len(data), 7):
        r.feed(data[i : i + 7])
    assert ev.of(EV_FRAME) == frames


def test_flush_reports_a_trailing_partial():
    ev = Events()
    r = FrameReader(ev)
    r.feed(STREAM[0] + h("08 01 00 02 01"))
    r.flush()
    # the bytes after the partial's first byte were shown in the timeout: not again as junk
    assert ev.items == [(EV_FRAME, STREAM[0]), (EV_TIMEOUT, h("08 01 00 02 01"))]
    r.feed(STREAM[1])
    assert ev.items[-1] == (EV_FRAME, STREAM[1])


def test_reset_drops_held_bytes():
    ev = Events()
    r = FrameReader(ev)
    r.feed(h("08 01 00 02 01"))
    r.reset()
    r.feed(STREAM[0])
    assert ev.items == [(EV_FRAME, STREAM[0])]


def test_other_first_bytes_can_be_admitted():
    f = frame.build(0xF001, h("01 02 03"))
    ev = Events()
    FrameReader(ev).feed(f)
    assert ev.of(EV_FRAME) == []
    ev = Events()
    FrameReader(ev, first_bytes=b"\x08\x09\xf0").feed(f)
    assert ev.of(EV_FRAME) == [f]


def test_no_allocation_per_byte_fed():
    if not MICROPYTHON:
        return  # gc.mem_alloc is MicroPython's; CPython has no equivalent
    r = FrameReader(lambda ev, v: None)
    junk = Lcg(3).data(200)
    one = bytearray(1)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for i in range(len(junk)):  # junk that never completes a frame: no event
        if junk[i] not in (8, 9, 6, 0x15):
            one[0] = junk[i]
            r.feed(one)
    used = gc.mem_alloc() - before
    gc.enable()
    assert used == 0, used


def test_a_timed_out_partial_is_reported_once():
    # a partial that holds another frame start: one EV_TIMEOUT, not one per start byte
    ev = Events()
    r = FrameReader(ev)
    r.feed(h("08 01 00 02 08 01"), now=0)
    r.expire()
    assert ev.items == [(EV_TIMEOUT, h("08 01 00 02 08 01"))]
    assert r.partial_age(600) == -1  # nothing left to time out again
    r.feed(STREAM[0])
    assert ev.items[-1] == (EV_FRAME, STREAM[0])
    ev2 = Events()
    r2 = FrameReader(ev2)
    r2.feed(h("08 01 00 02 08 01"))
    r2.flush()
    assert ev2.items == [(EV_TIMEOUT, h("08 01 00 02 08 01"))]
