# Property tests (hypothesis): every message kind round-trips through encode/decode,
# the FrameReader recovers every valid frame that follows random junk in any chunking,
# and no byte string makes the reader or the decoders raise anything but CodecError.

import json
import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cta2045 import CodecError, frame, message
from cta2045.frame import EV_FRAME, FrameReader
from checks import rows

INT_RANGES = {"B": (0, 255), "b": (-128, 127), "H": (0, 65535), "h": (-32768, 32767), "I": (0, 0xFFFFFFFF)}


def _letters(fmt):
    out, width = [], ""
    for k in fmt:
        if k.isdigit():
            width += k
        else:
            out.append((k, int(width or 1)))
            width = ""
    return out


def _value(letter, width):
    if letter == "s":
        text = st.text(alphabet=string.ascii_letters + string.digits + " -_.", max_size=width)
        return text.map(str.rstrip)
    lo, hi = INT_RANGES[letter]
    return st.integers(lo, hi)


RECORD = st.fixed_dictionaries(
    {
        "code": st.integers(0, 127),
        "measured": st.booleans(),
        "rate": st.integers(0, (1 << 48) - 1),
        "cumulative": st.integers(0, (1 << 48) - 1),
    }
)


def _groups_strategy(groups):
    """Fields for the first k groups of a layout, k drawn at random."""

    @st.composite
    def draw(d):
        k = d(st.integers(0, len(groups)))
        fields = {}
        for g in groups[:k]:
            fmt, *names = g.split()
            if fmt == "*":
                fields[names[0]] = d(st.lists(RECORD, min_size=1, max_size=5))
                continue
            for (letter, width), name in zip(_letters(fmt), names):
                fields[name] = d(_value(letter, width))
        return fields

    return draw()


def _kinds():
    out = []
    for table, base in ((message.BASIC, 1), (message.DATALINK, 0x16)):
        for entry in table:
            if entry != "-":
                name, field = entry.split(":")
                out.append(
                    st.tuples(st.just(name), st.just(False), st.fixed_dictionaries({field: st.integers(0, 255)}))
                )
    for name, req, rep in rows(message.INTERMEDIATE, 10).values():
        out.append(st.tuples(st.just(name), st.just(False), _groups_strategy(req)))
        out.append(st.tuples(st.just(name), st.just(True), _groups_strategy(rep)))
    out.append(st.tuples(st.just("commodity_read"), st.just(False), _groups_strategy(message._RECORDS).filter(bool)))
    return st.one_of(out)


@settings(max_examples=1500, deadline=None)
@given(_kinds())
def test_every_message_kind_round_trips(kind):
    name, reply, fields = kind
    f = message.encode(name, reply, **fields)
    assert frame.valid(f)
    m = message.decode(f)
    assert (m.name, m.reply, m.fields) == (name, reply, fields)
    json.dumps(m.to_dict())


VALID_FRAME = st.one_of(
    st.builds(
        lambda op, v: message.encode(op, duration=v),
        st.sampled_from(["shed", "load_up", "critical_peak"]),
        st.integers(0, 255),
    ),
    st.builds(
        lambda mt, p: frame.build(mt, p), st.sampled_from([0x0801, 0x0802, 0x0803, 0x0904]), st.binary(max_size=80)
    ),
    st.just(frame.ACK),
)


def _chunks(data, cuts):
    cuts = sorted(set(c % (len(data) + 1) for c in cuts))
    prev = 0
    for c in cuts + [len(data)]:
        yield data[prev:c]
        prev = c


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=300),
    st.lists(VALID_FRAME, min_size=1, max_size=6),
    st.lists(st.integers(0, 10_000), max_size=30),
)
def test_reader_recovers_every_valid_frame_after_junk(junk, frames, cuts):
    # junk ending in 15 followed by an ACK reads as NAK 15 06: the wire itself is
    # ambiguous there, so that one case is left out
    assume(not (junk.endswith(b"\x15") and frames[0] == frame.ACK))
    events = []
    r = FrameReader(lambda ev, v: events.append((ev, bytes(v) if not isinstance(v, int) else v)), max_payload=256)
    data = junk + b"".join(frames)
    for piece in _chunks(data, cuts):
        r.feed(piece)
    r.flush()
    got = [v if ev == EV_FRAME else frame.ACK for ev, v in events if ev in (EV_FRAME, frame.EV_ACK)]
    # the frames that followed the junk come out, in order, at the end
    assert got[len(got) - len(frames) :] == frames


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 0xFFFF))
def test_arbitrary_bytes_raise_only_codec_error(data, mt):
    def handler(ev, v):
        if ev in (EV_FRAME, frame.EV_BAD_CHECKSUM):
            message.decode(v).to_dict()

    r = FrameReader(handler, max_payload=64)
    r.feed(data)
    r.expire()
    r.flush()
    for fn, args in ((message.decode, (data,)), (message.decode_payload, (mt, data))):
        try:
            fn(*args).to_dict()
        except CodecError:
            pass
