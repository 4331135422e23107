# The 9-bit bus codec (lib/ninebit) against the seven published frames: checksums,
# length rules, encoder, description, the reader with and without the 9th bit, the
# PARMRK capture format, the parameter table, the ESP32 parity trick. Runs under CPython
# and MicroPython.

from ninebit import FLAG
from ninebit import frame as F
from ninebit.capture import Unescaper, escape, unescape
from ninebit.params import ParamTable
from ninebit.reader import Reader
from ninebit_vectors import ORDER, golden, synthetic_capture
from checks import rows


class Rec:
    def __init__(self):
        self.frames = []
        self.errors = []

    def frame(self, f, now):
        self.frames.append(f)

    def error(self, kind, data, now):
        self.errors.append((kind, data))

    def kinds(self):
        return [k for k, _ in self.errors]


def reader(flagged=True, **kw):
    r = Rec()
    return Reader(r.frame, r.error, flagged, **kw), r


def test_golden_checksums_and_lengths():
    for name in rows(ORDER, 7):
        f = golden(name)
        assert F.valid(f), name
        assert F.sum8(f, len(f) - 1) == f[-1]
        if f[0] == 0x40:
            assert F.length(f[0], f[2]) == len(f) == 4 + 2 * f[2]
        else:
            assert F.length(f[0]) == len(f) == 3
    assert F.length(0x40) == -1 and F.length(0x12) == 0 and F.length(0x9F) == 3 and F.length(0xA0) == 0
    assert not F.valid(b"\x40\x00\x00\x41") and not F.valid(b"\x90")


def test_encoder_and_description():
    for name in rows(ORDER, 7):
        f = golden(name)
        assert F.encode(f[:-1]) == f
        if f[0] == 0x40:
            assert F.block(f[1], F.words(f)) == f
    g = F.describe(golden("G"))
    assert g["kind"] == "block" and g["block"] == 0x0D and g["len"] == 28 and g["checksum_ok"]
    assert g["words"][:6] == [1, 60, 0, 16, 120, 120]
    a = F.describe(golden("A"))
    assert a == {"hex": "900090", "len": 3, "checksum_ok": True, "kind": "poll", "node": 16}
    assert F.describe(b"\x12\x34\x46")["kind"] == "unknown"
    assert F.symbols(golden("D")) == [0x8C | FLAG, 0x00, 0x8C]


def test_flagged_reader_recovers_back_to_back_frames():
    r, rec = reader()
    for name in rows(ORDER, 7):
        r.feed_symbols(F.symbols(golden(name)), 5)
    r.flush()
    assert rec.frames == [golden(n) for n in ORDER] and rec.errors == []
    assert r.frames == 7


def test_flagged_reader_resyncs():
    r, rec = reader()
    b = golden("B")
    bad = bytearray(golden("F"))
    bad[4] ^= 0x10
    syms = [0x01, 0x02]  # stray: no frame open
    syms += F.symbols(b)[:20]  # cut: a new flagged byte arrives
    syms += F.symbols(golden("A"))
    syms += F.symbols(bytes(bad))
    syms += F.symbols(b"\x12\x34\x46")  # unknown kind, checksum holds: kept
    syms += F.symbols(golden("E"))
    syms += [0x05]
    r.feed_symbols(syms)
    r.flush()
    assert rec.frames == [golden("A"), b"\x12\x34\x46", golden("E")]
    assert rec.kinds() == ["stray", "truncated", "checksum", "stray"]
    assert rec.errors[1][1] == b[:20] and rec.errors[2][1] == bytes(bad)


def test_unknown_kind_is_capped():
    r, rec = reader(cap=10)
    r.feed_symbols([0x33 | FLAG] + [1] * 12)
    r.feed_symbols(F.symbols(golden("A")))
    r.flush()
    assert rec.kinds() == ["overlength", "stray"] and rec.frames == [golden("A")]


def test_plain_reader_resyncs_by_header_length_and_checksum():
    r, rec = reader(flagged=False)
    bad = bytearray(golden("C"))
    bad[7] ^= 0x01
    data = b"\x01\x02\x03" + golden("A") + golden("B") + bytes(bad) + b"\x07" + golden("F") + golden("G")
    for i in range(0, len(data), 7):  # in chunks, as a UART delivers them
        r.feed(data[i : i + 7], i)
    r.flush(len(data))
    assert rec.frames == [golden("A"), golden("B"), golden("F"), golden("G")]
    assert "stray" in rec.kinds() and "checksum" not in rec.kinds()


def test_plain_reader_idle_gap_ends_a_partial_frame():
    r, rec = reader(flagged=False, gap_ms=5)
    b = golden("B")
    r.feed(b[:30], 0)
    r.feed(golden("A"), 100)  # 100 ms later: the partial B is dead
    r.flush(101)
    assert rec.frames == [golden("A")]
    assert rec.errors == [("truncated", b[:30])]


def test_plain_reader_idle_gap_across_the_ticks_wrap():
    # ticks_ms wraps (at 2**30 ms, 12.4 days, on a 32-bit board; the period is the
    # runtime's own): a frame whose bytes straddle the wrap is one frame; a real gap
    # across the wrap still ends a partial one
    from ucm.clock import ticks_add

    top = ticks_add(0, -1) + 1
    b = golden("B")
    r, rec = reader(flagged=False, gap_ms=5)
    r.feed(b[:30], top - 2)
    r.feed(b[30:], 1)  # 3 ms later, after the wrap
    assert rec.frames == [b] and rec.errors == []
    r, rec = reader(flagged=False, gap_ms=5)
    r.feed(b[:30], top - 2)
    r.feed(golden("A"), 40)  # 42 ms later: the partial B is dead
    r.flush(41)
    assert rec.frames == [golden("A")] and rec.errors == [("truncated", b[:30])]


def test_capture_unescape_and_escape():
    c = golden("C")
    syms = F.symbols(c)
    cap = escape(syms)
    assert cap[:3] == b"\xff\x00\x40" and b"\xff\xff\xff\xff" in cap  # the data pair ff ff
    assert unescape(cap) == syms
    for cut in range(len(cap) + 1):  # any split of the stream
        u = Unescaper()
        out = []
        u.feed(cap[:cut], out)
        u.feed(cap[cut:], out)
        assert out == syms, cut
    assert escape([0xFF | FLAG]) == b"\xff\x00\xff" and unescape(b"\xff\x00\xff") == [0xFF | FLAG]
    u = Unescaper()
    out = []
    u.feed(b"\xff\x41", out)  # not PARMRK: both kept, counted
    assert out == [0xFF, 0x41] and u.bad == 1


def test_synthetic_capture_gives_six_frames_and_one_report():
    cap, valid, bad = synthetic_capture()
    r, rec = reader()
    r.feed_symbols(unescape(cap))
    r.flush()
    assert rec.frames == valid and len(valid) == 6
    assert [e for e in rec.errors if e[0] != "stray"] == [("checksum", bad)]


def test_param_table_tracks_changes():
    t = ParamTable()
    g = golden("G")
    assert t.update(g, 10) == 0
    assert t.update(golden("A"), 10) == 0
    rows = t.rows()
    assert len(rows) == 12 + 1
    r4 = [r for r in rows if r["block"] == 0x0D and r["index"] == 4][0]
    assert r4["u16"] == 120 and r4["raw"] == "0078" and r4["kind"] == "0x40" and r4["changed_at"] == 10
    # the setpoint word moves from 120 to 125
    w = F.words(g)
    w[4] = 125
    assert t.update(F.block(0x0D, w), 20) == 1
    assert t.update(F.block(0x0D, w), 30) == 0
    ch = t.changes()
    assert len(ch) == 1 and ch[0]["old"] == 120 and ch[0]["u16"] == 125 and ch[0]["changed_at"] == 20
    assert t.changes(since=20) == [] and [r["index"] for r in t.rows(since=15)] == [4]
    c = ParamTable()
    c.update(golden("C"), 0)
    p1 = [r for r in c.rows() if r["index"] == 1][0]
    assert p1["temp_c_hypothesis"] == 49.0 and p1["raw"] == "6200"
    small = ParamTable(max_keys=3, log_size=1)
    small.update(g, 0)
    assert len(small.rows()) == 3 and small.dropped == 9


def test_parity_trick():
    # even parity sends popcount & 1; the parity bit must equal the 9th bit
    for byte in (0x00, 0x01, 0x40, 0x90, 0xFF, 0x7E):
        ones = bin(byte).count("1")
        for bit9 in (0, 1):
            p = F.parity_for(byte, bit9)
            sent = (ones & 1) if p == 0 else 1 - (ones & 1)
            assert sent == bit9, (byte, bit9)
