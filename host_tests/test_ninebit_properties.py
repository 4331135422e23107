# Properties of the 9-bit bus codec (lib/ninebit) over generated inputs: every frame
# encoded with its checksum is recovered by the flagged reader whatever unflagged junk
# sits between frames; the plain reader recovers them when the junk holds no first
# byte of a known kind; capture escaping round-trips over any chunking; arbitrary
# symbols never raise.
from hypothesis import given, settings
from hypothesis import strategies as st

from ninebit import FLAG
from ninebit.capture import Unescaper, escape, unescape
from ninebit.frame import block, encode, symbols, valid
from ninebit.reader import Reader

polls = st.integers(0x80, 0x9F).map(lambda b: encode(bytes((b, 0))))
blocks = st.builds(block, st.integers(0, 255), st.lists(st.integers(0, 0xFFFF), max_size=40))
frames = st.one_of(polls, blocks)
junk = st.lists(st.integers(0, 255), max_size=8)
plain_junk = st.lists(st.integers(0, 255).filter(lambda b: b != 0x40 and not 0x80 <= b <= 0x9F), max_size=8)


def run_reader(feed, flagged):
    got, errs = [], []
    r = Reader(lambda f, now: got.append(f), lambda k, d, now: errs.append(k), flagged)
    feed(r)
    r.flush()
    return got, errs


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(junk, frames), max_size=12), junk)
def test_flagged_reader_recovers_every_frame(items, tail):
    syms = []
    for j, f in items:
        syms += j + symbols(f)
    syms += tail
    got, errs = run_reader(lambda r: r.feed_symbols(syms), True)
    assert got == [f for _, f in items]
    assert set(errs) <= {"stray"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(plain_junk, frames), max_size=12), st.integers(1, 40))
def test_plain_reader_recovers_every_frame(items, chunk):
    data = b"".join(bytes(j) + f for j, f in items)
    got, errs = run_reader(lambda r: [r.feed(data[i : i + chunk]) for i in range(0, len(data), chunk)], False)
    assert got == [f for _, f in items]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 0x1FF), max_size=200), st.integers(1, 50))
def test_capture_round_trip_any_chunking(syms, chunk):
    cap = escape(syms)
    u = Unescaper()
    out = []
    for i in range(0, len(cap), chunk):
        u.feed(cap[i : i + chunk], out)
    assert out == syms == unescape(cap)
    assert u.bad == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 0x1FF), max_size=600))
def test_any_symbols_only_give_valid_frames(syms):
    got, errs = run_reader(lambda r: r.feed_symbols(syms), True)
    assert all(valid(f) for f in got)
    assert set(errs) <= {"stray", "checksum", "truncated", "overlength"}
    got, errs = run_reader(lambda r: r.feed(bytes(s & 0xFF for s in syms)), False)
    assert all(valid(f) for f in got)


def test_flag_constant():
    assert FLAG == 0x100 and symbols(b"\x90\x00\x90")[0] == 0x190
