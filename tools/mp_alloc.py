# Runs under MicroPython (bench.py part b starts it in the WebAssembly port): heap bytes
# the streaming FrameReader allocates per byte fed and per complete frame, from
# gc.mem_alloc() deltas with the collector off. Prints one line "ALLOC {json}".

import gc
import json

from cta2045 import message
from cta2045.frame import FrameReader


def _frames():
    out = []
    for d in (0, 0x11, 0x1E, 0xFE):
        out.append(message.encode("shed", duration=d))
    out.append(message.encode("app_ack", opcode=1))
    out.append(message.encode("op_state", state=2))
    out.append(message.encode("advanced_load_up", duration_min=60, value=5, units=2))
    recs = [{"code": c, "measured": True, "rate": 250, "cumulative": 4200} for c in (0, 6, 7)]
    out.append(message.encode("commodity_read", reply=True, rc=0, records=recs))
    return out


def measure(rounds=50):
    events = [0]

    def handler(ev, value):
        events[0] += 1

    frames = _frames()
    stream = b"".join(frames) * rounds
    one = bytearray(1)
    r = FrameReader(handler)

    # (1) bytes that complete no frame: the middle of a long frame, fed one at a time
    partial = message.encode(
        "get_information",
        reply=True,
        rc=0,
        version="A",
        vendor_id=1,
        device_type=3,
        revision=1,
        capability=0,
        reserved=0,
        model="M",
        serial="S",
        fw_year=1,
        fw_month=0,
        fw_day=1,
        fw_major=1,
        fw_minor=0,
    )[:-3]
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for b in partial:
        one[0] = b
        r.feed(one)
    a1 = gc.mem_alloc()
    gc.enable()
    r.reset()
    per_byte = (a1 - a0) / len(partial)

    # (2) a stream of whole frames, one byte at a time and in 64-byte chunks
    results = {}
    for label, step in (("bytewise", 1), ("chunks64", 64)):
        mv = memoryview(stream)
        chunks = [mv[i : i + step] for i in range(0, len(stream), step)] if step > 1 else None
        events[0] = 0
        gc.collect()
        gc.disable()
        a0 = gc.mem_alloc()
        if step == 1:
            for b in stream:
                one[0] = b
                r.feed(one)
        else:
            for c in chunks:
                r.feed(c)
        a1 = gc.mem_alloc()
        gc.enable()
        results[label] = (a1 - a0) / events[0]
    by_len = {}
    for f in frames:
        data = f * rounds
        events[0] = 0
        gc.collect()
        gc.disable()
        a0 = gc.mem_alloc()
        r.feed(data)
        a1 = gc.mem_alloc()
        gc.enable()
        by_len[str(len(f))] = (a1 - a0) / events[0]
    return {
        "bytes_per_frame_by_length": by_len,
        "bytes_per_byte_no_frame": per_byte,
        "bytes_per_frame_bytewise": results["bytewise"],
        "bytes_per_frame_chunks64": results["chunks64"],
        "frames": events[0],
        "mean_frame_len": len(stream) / events[0],
        "frame_lens": [len(f) for f in frames],
    }


print("ALLOC " + json.dumps(measure()))
