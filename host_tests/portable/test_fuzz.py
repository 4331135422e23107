# Bounded fuzz run with a fixed seed: random and mutated inputs through the FrameReader
# and the decoders. Nothing may escape but CodecError, and every frame the reader
# accepts must decode or raise CodecError. 20,000 inputs, on CPython and under
# MicroPython alike.

import json

from checks import Lcg, h
from vectors import ALL_VALID

from cta2045 import CodecError, frame, message

SEEDS = [h(t) for t, _, _ in ALL_VALID]
INPUTS = 20000


def _mutate(rnd, data):
    b = bytearray(data)
    for _ in range(1 + rnd.below(4)):
        op = rnd.below(5)
        if op == 0 and b:
            b[rnd.below(len(b))] ^= 1 << rnd.below(8)
        elif op == 1 and b:
            i = rnd.below(len(b))
            b = b[:i] + b[i + 1 :]
        elif op == 2:
            i = rnd.below(len(b) + 1)
            b = b[:i] + bytes((rnd.below(256),)) + b[i:]
        elif op == 3 and len(b) > 3:
            b[2] = rnd.below(256)  # mess with LEN
        else:
            b = b[: rnd.below(len(b) + 1)]
    return bytes(b)


def _decode_all(data, counts):
    try:
        m = message.decode(data)
        json.dumps(m.to_dict())
        counts[0] += 1
    except CodecError:
        counts[1] += 1


def test_fuzz_reader_and_decoders():
    rnd = Lcg(20261122)
    counts = [0, 0]
    seen = set()  # the kinds of event (a list of every event would grow with the run)

    def handler(ev, v):
        seen.add(ev)
        if ev in (frame.EV_FRAME, frame.EV_BAD_CHECKSUM):
            _decode_all(bytes(v), counts)

    r = frame.FrameReader(handler, max_payload=128)
    for i in range(INPUTS):
        kind = i % 4
        if kind == 0:
            data = rnd.data(rnd.below(40))
        elif kind == 1:
            data = _mutate(rnd, SEEDS[rnd.below(len(SEEDS))])
        elif kind == 2:  # a valid frame of a random type and payload, then mutated
            payload = rnd.data(rnd.below(24))
            data = _mutate(rnd, frame.build((8 << 8) | rnd.below(5), payload))
        else:
            data = SEEDS[rnd.below(len(SEEDS))] + rnd.data(rnd.below(6))
        _decode_all(data, counts)  # the decoder on the raw input
        try:
            message.decode_payload(0x0800 | rnd.below(4), data)
        except CodecError:
            pass
        r.feed(data, now=i)
        if rnd.below(50) == 0:
            r.expire()
    r.flush()
    assert counts[0] > INPUTS // 10 and counts[1] > INPUTS // 10, counts  # both paths exercised
    assert frame.EV_FRAME in seen and frame.EV_BAD_CHECKSUM in seen and frame.EV_JUNK in seen
