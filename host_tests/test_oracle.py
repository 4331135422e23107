# Cross-checks our codec (lib/cta2045) against the peer codec on PyPI, `cta2045` 0.1.0
# ("PCTA" in lib/cta2045/PROTOCOL.md), loaded through host_tests/oracle.py. Where both
# can build or read a message they must agree byte for byte and field by field. Where
# PCTA is wrong per the protocol reference (section 7) or handles an input differently, the
# difference is pinned by a test that names the section, so a change on either side
# shows up here. PCTA bodies are header + payload without checksum; ours are whole frames.

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402  (puts lib/ first on sys.path)

import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cta2045 import CodecError, basic, frame, message  # noqa: E402

PCTA = oracle.load()
app, codec, enums = PCTA.app, PCTA.codec, PCTA.enums
Duration = codec.Duration
Cat = enums.BasicDRCategory

HYP = settings(max_examples=300, deadline=None)


# ----------------------------------------------------------------------------- helpers


def ck(body):
    """Whole frame for a PCTA body (header + payload): body + CK1 CK2."""
    return bytes(body) + frame.checksum(body).to_bytes(2, "big")


def pcta_decode(body):
    msg, end = app.decode(bytes(body))
    assert end == len(body)
    return msg


def ev(x):
    """Wire value of a PCTA enum member or raw int (None stays None)."""
    return getattr(x, "value", x)


def same_frame(ours, pcta_body):
    """Our whole frame equals PCTA's body plus a correct checksum."""
    assert frame.valid(ours), ours.hex()
    assert ours[:-2].hex() == bytes(pcta_body).hex()
    assert ours == ck(pcta_body)


# Basic DR opcode1: our message name and field, PCTA category (PROTOCOL.md section 3.1).
BASIC_PAIRS = {
    "shed": Cat.Shed,
    "end_shed": Cat.End_Shed,
    "app_ack": Cat.ACK,
    "app_nak": Cat.NAK,
    "power_level": Cat.Power_Level_Request,
    "present_price": Cat.Present_Relative_Price,
    "next_price": Cat.Next_Relative_Price,
    "time_remaining": Cat.Present_Period_Time_Remaining,
    "critical_peak": Cat.Critical_Peak_Event,
    "grid_emergency": Cat.Grid_Emergency,
    "grid_guidance": Cat.Grid_Guidance,
    "comm_status": Cat.Connection_Status,
    "customer_override": Cat.Customer_Override,
    "op_state_query": Cat.Operational_State_Query,
    "op_state": Cat.State_Query_Response,
    "sleep": Cat.Sleep,
    "wake": Cat.Wake,
    "time_sync": Cat.Time_Sync,
    "load_up": Cat.Load_Up,
    "pending_event_time": Cat.Pending_Event_Time,
    "pending_event_type": Cat.Pending_Event_Type,
    "reboot": Cat.Reboot,
}
BASIC_FIELD = dict(e.split(":") for e in message.BASIC if e != "-")

# The four Basic DR event commands whose opcode2 is a duration byte (section 3.2), as
# (our message name, PCTA builder name).
DURATION_COMMANDS = [
    ("shed", "shed"),
    ("critical_peak", "critical_peak"),
    ("grid_emergency", "grid_emergency"),
    ("load_up", "load_up"),
]


# ----------------------------------------------------------------------------- the oracle


def test_oracle_is_the_pypi_package_and_ours_stays_cta2045():
    assert PCTA.version == "0.1.0"
    assert "site-packages" in PCTA.path
    assert PCTA.app.__name__ == "cta2045.app"
    mod = sys.modules["cta2045"]
    assert mod.__file__.startswith(oracle.LIB)
    assert hasattr(mod, "frame") and not hasattr(mod, "app")
    assert not any(
        getattr(m, "__file__", "") and "site-packages" in m.__file__
        for k, m in sys.modules.items()
        if k.split(".")[0] == "cta2045"
    )
    assert oracle.load() is PCTA


_ORDER_SCRIPT = r"""
import sys
sys.path.insert(0, %(here)r)
ORDER = %(order)r
if ORDER == "ours_first":
    sys.path.insert(0, %(lib)r)
    import cta2045.message, cta2045.basic
    before = sys.modules["cta2045.message"]
import oracle
p = oracle.load()
import cta2045, cta2045.message, cta2045.frame
assert cta2045.__file__.startswith(%(lib)r), cta2045.__file__
if ORDER == "ours_first":
    assert sys.modules["cta2045.message"] is before
assert "cta2045.app" not in sys.modules and "cta2045.codec" not in sys.modules
ours = cta2045.message.encode("shed", duration=0x11)
theirs = p.app.shed(10).to_bytes()
assert ours == bytes.fromhex("080100020111e94e"), ours.hex()
assert theirs == bytes.fromhex("080100020111"), theirs.hex()
assert p.app.decode(theirs)[0].duration.seconds == 578
print("ok", ORDER)
"""


@pytest.mark.parametrize("order", ["ours_first", "oracle_first"])
def test_oracle_loads_in_either_import_order(order):
    here = os.path.dirname(os.path.abspath(__file__))
    script = _ORDER_SCRIPT % {"here": here, "lib": oracle.LIB, "order": order}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok " + order


# ----------------------------------------------------------------------------- Basic DR durations


@pytest.mark.parametrize("ours_name,pcta_name", DURATION_COMMANDS)
def test_duration_command_every_byte_matches(ours_name, pcta_name):
    build = getattr(app, pcta_name)
    for b in range(256):
        body = build(Duration.from_byte(b)).to_bytes()
        ours = message.encode(ours_name, duration=b)
        same_frame(ours, body)
        # and each side reads the other's bytes back
        theirs = pcta_decode(ours[:-2])
        assert theirs.opcode2 == b and theirs.duration == Duration.from_byte(b)
        m = message.decode(ck(body))
        assert (m.name, m.fields, m.checksum_ok) == (ours_name, {"duration": b}, True)
        assert basic.duration_seconds(b) == Duration.from_byte(b).seconds


@pytest.mark.parametrize("ours_name,pcta_name", DURATION_COMMANDS)
def test_duration_command_from_minutes_matches(ours_name, pcta_name):
    # PCTA's builders take a bare number as minutes (int(minutes * 60) seconds).
    build = getattr(app, pcta_name)
    for minutes in list(range(0, 2200)) + [0.01, 0.5, 9.99, 10.5, 59.9, 2150.5]:
        body = build(minutes).to_bytes()
        ours = message.encode(ours_name, duration=basic.duration_code(int(minutes * 60)))
        same_frame(ours, body)
    # None means "unknown" on both sides
    same_frame(message.encode(ours_name, duration=basic.duration_code(None)), build(None).to_bytes())


SECONDS_BOUNDARIES = {
    0: 0x01,  # under 2 s clamps up to 0x01 on both sides (0x00 would mean "unknown")
    1: 0x01,
    2: 0x01,
    7: 0x01,
    8: 0x02,
    17: 0x02,
    18: 0x03,
    450: 0x0F,
    577: 0x10,
    578: 0x11,
    599: 0x11,
    600: 0x11,  # section 1.3 worked example: 600 s -> 0x11 (578 s), rounded down
    1800: 0x1E,
    3528: 0x2A,
    3600: 0x2A,
    7200: 0x3C,
    129031: 0xFD,
    129032: 0xFE,  # 2 * 254^2, the longest representable duration
    129033: 0xFE,
    130049: 0xFE,
    130050: 0xFF,  # 2 * 255^2: too long
    200000: 0xFF,
}


@pytest.mark.parametrize("seconds", sorted(SECONDS_BOUNDARIES))
def test_duration_seconds_boundaries(seconds):
    assert basic.duration_code(seconds) == SECONDS_BOUNDARIES[seconds]
    assert Duration.of_seconds(seconds).to_byte() == SECONDS_BOUNDARIES[seconds]


def test_duration_seconds_every_integer_up_to_200000_matches():
    diff = [s for s in range(200001) if basic.duration_code(s) != Duration.of_seconds(s).to_byte()]
    assert diff == []


def test_duration_zero_seconds_is_not_unknown_on_either_side():
    # Section 3.2: 0x00 means "unknown / unspecified". Both codecs clamp 0 s up to 0x01
    # (2 s) instead of sending "unknown", so there is no difference at 0 s to pin.
    assert basic.duration_code(0) == Duration.of_seconds(0).to_byte() == 0x01
    # "Unknown" is asked for explicitly: None on our side, Duration.unknown() on PCTA's.
    assert basic.duration_code(None) == Duration.unknown().to_byte() == 0x00


def test_duration_non_integer_and_bad_inputs_differ():
    # Not a wire difference, an API one, pinned so it is known:
    # * None: ours -> 0x00 (unknown); PCTA's of_seconds(None) raises its CodecError.
    assert basic.duration_code(None) == 0x00
    with pytest.raises(codec.CodecError):
        Duration.of_seconds(None).to_byte()
    # * float seconds: ours truncates to whole seconds; PCTA's of_seconds() raises
    #   TypeError from math.isqrt (its of_minutes() converts with int(), so its
    #   builders accept float minutes).
    assert basic.duration_code(600.0) == 0x11 and basic.duration_code(1.5) == 0x01
    with pytest.raises(TypeError):
        Duration.of_seconds(600.0).to_byte()
    # * negative: both raise a ValueError; ours is CodecError, PCTA's is isqrt's own.
    with pytest.raises(CodecError):
        basic.duration_code(-1)
    with pytest.raises(ValueError):
        Duration.of_seconds(-1).to_byte()


# ----------------------------------------------------------------------------- other Basic DR


def test_end_shed_matches():
    body = app.end().to_bytes()
    assert body == bytes.fromhex("080100020200")
    ours = message.encode("end_shed")
    same_frame(ours, body)
    assert ours == bytes.fromhex("080100020200093F")  # section 5, "End Shed"


@pytest.mark.parametrize("name", sorted(BASIC_PAIRS))
def test_basic_generic_builder_every_opcode2_matches(name):
    # PCTA builds any Basic DR message with its BasicDR(category, opcode2) dataclass.
    cat = BASIC_PAIRS[name]
    assert message.opcode(message.BASIC, cat.value) == [name, BASIC_FIELD[name]]
    for op2 in range(256):
        same_frame(message.encode(name, **{BASIC_FIELD[name]: op2}), app.BasicDR(cat, op2).to_bytes())


def test_basic_categories_are_the_same_set():
    assert {c.value for c in Cat} == {op for op in range(256) if message.opcode(message.BASIC, op)}


def test_basic_decode_all_opcode_pairs_agree():
    # All 65536 opcode1/opcode2 pairs: both read the same opcodes; where PCTA knows the
    # category, we know the opcode too and carry opcode2 in the field for it.
    cat_name = {v: k for k, v in BASIC_PAIRS.items()}
    for op1 in range(256):
        for op2 in range(256):
            body = bytes((8, 1, 0, 2, op1, op2))
            theirs = pcta_decode(body)
            ours = message.decode(ck(body))
            assert (theirs.opcode1, theirs.opcode2) == (ours.op1, ours.op2) == (op1, op2)
            if theirs.category is None:
                assert ours.name == "unknown_opcode" and ours.fields == {"op2": op2}
                continue
            assert ours.name == cat_name[theirs.category]
            assert ours.fields == {BASIC_FIELD[ours.name]: op2}
            if theirs.duration is not None:
                assert basic.duration_seconds(op2) == theirs.duration.seconds
            if theirs.operational_state is not None:
                assert ev(theirs.operational_state) == ours.fields["state"]


def test_power_level_pcta_sends_unscaled_percent():
    # PINNED PCTA BUG, PROTOCOL.md sections 3.2 and 7 ("Power-level scaling: PCTA is wrong"):
    # opcode2 of 0x06 is 0..127 for 0..100 % in bits 6..0, bit 7 = produce. PCTA's
    # power_level(50) puts the raw 50 (0x32) in opcode2, with no scaling and no way to
    # set the direction bit. We send 50 % as 63 (0x3F), produce as 0xBF.
    theirs = app.power_level(50).to_bytes()
    assert theirs == bytes.fromhex("080100020632")
    assert basic.power_code(50) == 63 == 0x3F
    assert basic.power_code(50, produce=True) == 0xBF
    ours = message.encode("power_level", power=basic.power_code(50))
    assert ours == bytes.fromhex("08010002063F7E86")  # section 5, "Power 50 %, absorb"
    assert ours[:-2] != theirs
    assert theirs[-1] == 0x32 and ours[-3] == 0x3F
    # A conforming SGD reads PCTA's "50 %" as 50/127 = 39.4 % and its "100 %" as 78.7 %.
    assert round(basic.power_percent(0x32)[0], 1) == 39.4
    assert round(basic.power_percent(app.power_level(100).opcode2)[0], 1) == 78.7
    # The two encodings agree only at 0..3 % (where p * 127 // 100 == p).
    agree = [p for p in range(101) if app.power_level(p).opcode2 == basic.power_code(p)]
    assert agree == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- link-level frames


@pytest.mark.parametrize("mt", [0x0801, 0x0802, 0x0803])
def test_type_supported_query_pcta_builds_but_cannot_decode(mt):
    # PCTA's generic build_frame() writes the MTSQ body (section 2.5), but its decode()
    # raises on LEN = 0 for Basic and Intermediate DR (it expects opcodes); ours decodes
    # it as type_supported_query.
    body = codec.build_frame(mt >> 8, mt & 0xFF, b"")
    ours = message.encode("type_supported_query", mt=mt)
    same_frame(ours, body)
    assert message.decode(ours).name == "type_supported_query"
    if mt == 0x0803:
        assert ev(pcta_decode(body).message_type) == ev(enums.MessageType.Data_Link)
    else:
        with pytest.raises(codec.CodecError):
            pcta_decode(body)


def test_datalink_generic_frames_match():
    # PCTA has no data-link messages (PROTOCOL.md section 6) but frames any payload; it decodes
    # them as UnknownMessage of type Data_Link.
    for op1 in range(256):
        entry = message.opcode(message.DATALINK, op1)
        if entry is None:
            continue
        name, field = entry
        for op2 in (0, 1, 5, 7, 0x80, 0xFF):
            body = codec.build_frame(8, 3, bytes((op1, op2)))
            same_frame(message.encode(name, **{field: op2}), body)
            theirs = pcta_decode(body)
            assert theirs.message_type is enums.MessageType.Data_Link
            assert theirs.frame.payload == bytes((op1, op2))


# ----------------------------------------------------------------------------- Advanced Load Up

ALU_OPTIONAL = (  # (our field, PCTA argument/attribute), in wire order (section 4.6)
    ("efficiency", "efficiency"),
    ("event_id", "event_id"),
    ("start", "start_time"),
    ("start_rand", "start_randomization"),
    ("end_rand", "end_randomization"),
)


def alu_pair(duration, value, units, optional, rc=None):
    """(our frame, PCTA body) for an ALU set request (rc None) or a reply carrying rc."""
    ours_kw = {"duration_min": duration, "value": value, "units": units}
    theirs_kw = {}
    for (o, t), v in zip(ALU_OPTIONAL, optional):
        ours_kw[o] = v
        theirs_kw[t] = v
    if rc is None:
        return message.encode("advanced_load_up", **ours_kw), app.advanced_load_up(
            duration, value, units, **theirs_kw
        ).to_bytes()
    obj = app.AdvancedLoadUp(
        opcode2=0x80, response_code=rc, duration_minutes=duration, value=value, units=units, **theirs_kw
    )
    return message.encode("advanced_load_up", reply=True, rc=rc, **ours_kw), obj.to_bytes()


def check_alu_fields(ours_msg, theirs, duration, value, units, optional, rc=None):
    f = ours_msg.fields
    assert ours_msg.name == "advanced_load_up" and ours_msg.reply == (rc is not None)
    assert theirs.opcode2 == (0x80 if rc is not None else 0x00)
    assert f.get("rc") == ev(theirs.response_code) == rc
    assert f["duration_min"] == theirs.duration_minutes == duration
    assert f["value"] == theirs.value == value
    assert f["units"] == ev(theirs.units) == units
    for i, (o, t) in enumerate(ALU_OPTIONAL):
        want = optional[i] if i < len(optional) else None
        assert f.get(o) == getattr(theirs, t) == want


def test_alu_get_matches():
    body = app.get_advanced_load_up().to_bytes()
    ours = message.encode("advanced_load_up")
    same_frame(ours, body)
    assert ours == bytes.fromhex("080200020C00E458")  # section 4.6 "Get"
    theirs = pcta_decode(ours[:-2]).body
    assert theirs.opcode2 == 0 and theirs.duration_minutes is None
    m = message.decode(ck(body))
    assert (m.name, m.reply, m.fields) == ("advanced_load_up", False, {})


def test_alu_readme_vector_matches():
    body = app.advanced_load_up(60, 5, enums.AdvancedLoadUpUnits.Wh_100).to_bytes()
    ours = message.encode("advanced_load_up", duration_min=60, value=5, units=2)
    same_frame(ours, body)
    assert ours == bytes.fromhex("08020007 0C00 003C 0005 02 A94B".replace(" ", ""))  # section 5 #25


ALU_FULL = (7, 0xDEADBEEF, 0x12345678, 15, 30)
ALU_EXTREMES = [
    (0, 0, 0xFF, (0, 0, 0, 0, 0)),  # the support probe (value 0, units 0xFF)
    (60, 5, 2, ALU_FULL),
    (0xFFFF, 0xFFFF, 3, (0xFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFF, 0xFF)),
    (1, 0xFFFE, 0, (100, 1, 0x2D6B2D00, 0, 255)),
]


@pytest.mark.parametrize("k", range(6))
@pytest.mark.parametrize("duration,value,units,optional", ALU_EXTREMES)
def test_alu_set_with_k_optional_fields_matches(k, duration, value, units, optional):
    ours, body = alu_pair(duration, value, units, optional[:k])
    same_frame(ours, body)
    assert len(body) - 4 == 7 + (0, 1, 5, 9, 10, 11)[k]  # LEN 7..18 for a set request (section 4.6)
    check_alu_fields(message.decode(ck(body)), pcta_decode(ours[:-2]).body, duration, value, units, optional[:k])


alu_args = st.tuples(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFF),
    st.tuples(
        st.integers(0, 0xFF),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 0xFF),
        st.integers(0, 0xFF),
    ),
    st.integers(0, 5),
)


@HYP
@given(alu_args)
def test_alu_set_hypothesis_matches_both_ways(args):
    duration, value, units, optional, k = args
    ours, body = alu_pair(duration, value, units, optional[:k])
    same_frame(ours, body)
    check_alu_fields(message.decode(ck(body)), pcta_decode(ours[:-2]).body, duration, value, units, optional[:k])


@HYP
@given(alu_args, st.integers(0, 0xFF))
def test_alu_get_reply_hypothesis_matches_both_ways(args, rc):
    # PCTA builds replies with its AdvancedLoadUp dataclass (opcode2 0x80 + response code).
    duration, value, units, optional, k = args
    ours, body = alu_pair(duration, value, units, optional[:k], rc=rc)
    same_frame(ours, body)
    check_alu_fields(message.decode(ck(body)), pcta_decode(ours[:-2]).body, duration, value, units, optional[:k], rc)


@pytest.mark.parametrize("rc", [0, 1, 7, 8, 0xFF])
def test_alu_set_reply_rc_only_matches(rc):
    body = app.AdvancedLoadUp(opcode2=0x80, response_code=rc).to_bytes()
    ours = message.encode("advanced_load_up", reply=True, rc=rc)
    same_frame(ours, body)
    theirs = pcta_decode(ours[:-2]).body
    assert ev(theirs.response_code) == rc and theirs.duration_minutes is None
    assert message.decode(ck(body)).fields == {"rc": rc}
    if rc == 0:
        assert ours == bytes.fromhex("080200030C80009B20")  # section 5, "ALU set reply OK"


def test_alu_gap_in_optional_fields_differs():
    # DIFFERENCE (API): the optional ALU fields are positional (section 4.6). Given a
    # later field without an earlier one, PCTA silently drops the later field (and all
    # after it); ours refuses the message.
    body = app.advanced_load_up(60, 5, 2, event_id=4, end_randomization=9).to_bytes()
    assert body == bytes.fromhex("080200070C00003C000502")  # event_id and end_rand lost
    with pytest.raises(CodecError):
        message.encode("advanced_load_up", duration_min=60, value=5, units=2, event_id=4, end_rand=9)


def test_alu_out_of_range_values_differ():
    # DIFFERENCE (API): both refuse a 17-bit duration; ours with its CodecError, PCTA
    # with a bare struct.error from pack().
    import struct

    with pytest.raises(struct.error):
        app.advanced_load_up(0x10000, 5, 2).to_bytes()
    with pytest.raises(CodecError):
        message.encode("advanced_load_up", duration_min=0x10000, value=5, units=2)


def test_alu_truncated_optional_field_differs():
    # DIFFERENCE (decoding): a body cut inside an optional field. PCTA stops at the last
    # whole field and ignores the rest; ours raises CodecError. A set request ends on a
    # whole field only at LEN 7, 8, 12, 16, 17 and 18 (section 4.6 says "LEN is 7...19":
    # 19 is the longest Get reply, which adds the RC).
    full = app.advanced_load_up(
        60, 5, 2, efficiency=1, event_id=2, start_time=3, start_randomization=4, end_randomization=5
    ).to_bytes()
    assert len(full) == 4 + 18
    whole = {7, 8, 12, 16, 17, 18}
    for ln in range(7, 19):
        body = full[:2] + bytes((0, ln)) + full[4 : 4 + ln]
        theirs = pcta_decode(body).body
        assert theirs.duration_minutes == 60
        if ln in whole:
            m = message.decode(ck(body))
            assert len(m.fields) == 3 + sorted(whole).index(ln)
        else:
            with pytest.raises(CodecError):
                message.decode(ck(body))


# ----------------------------------------------------------------------------- commodity read

record = st.fixed_dictionaries(
    {
        "code": st.integers(0, 0x7F),
        "measured": st.booleans(),
        "rate": st.integers(0, (1 << 48) - 1),
        "cumulative": st.integers(0, (1 << 48) - 1),
    }
)


def check_commodity(records, rc):
    ours = message.encode("commodity_read", reply=True, rc=rc, records=records)
    assert len(ours) == 6 + 3 + 13 * len(records)
    theirs = pcta_decode(ours[:-2])
    assert theirs.category is enums.IntermediateDRCategory.Consumption_Production
    body = theirs.body
    assert body.opcode2 == 0x80 and ev(body.response_code) == rc
    assert len(body.reports) == len(records)
    back = message.decode(ours)
    # an RC-only reply has no "records" field on our side, an empty list on PCTA's
    assert back.reply and back.fields == ({"rc": rc, "records": records} if records else {"rc": rc})
    for r, t in zip(records, body.reports):
        # PCTA keeps bit 7 in the code (see test_commodity_measured_bit_pcta_keeps_it)
        assert ev(t.code) == r["code"] | (0x80 if r["measured"] else 0)
        assert t.instantaneous == r["rate"]
        assert t.cumulative == r["cumulative"]


@HYP
@given(st.lists(record, min_size=0, max_size=4), st.integers(0, 0xFF))
def test_commodity_read_reply_hypothesis_matches(records, rc):
    check_commodity(records, rc)


def test_commodity_read_reply_water_heater_sample_matches():
    # A Rinnai-like reading (section 4.3): code 0 estimated W, code 6 tank capacity,
    # code 7 energy take, plus big values at the uint48 limits.
    check_commodity(
        [
            {"code": 0, "measured": False, "rate": 4500, "cumulative": 0},
            {"code": 6, "measured": False, "rate": 0, "cumulative": 12011},
            {"code": 7, "measured": True, "rate": 0, "cumulative": 4200},
        ],
        0,
    )
    check_commodity([{"code": 11, "measured": True, "rate": (1 << 48) - 1, "cumulative": 1 << 47}], 0)
    check_commodity([], 1)


def test_commodity_measured_bit_pcta_keeps_it():
    # PINNED DIFFERENCE, PROTOCOL.md sections 4.3 and 7: code bit 7 = 1 means measured (EPRI-SIM,
    # INTW, GRIDCUBE) and must be masked off before the lookup. PCTA does not mask it: a
    # measured record's code is the raw int (0x80 | code) instead of a CommodityCode,
    # and PCTA has no measured flag. Its estimated records (bit 7 = 0) look up fine.
    recs = [
        {"code": 0, "measured": True, "rate": 250, "cumulative": 0},
        {"code": 7, "measured": False, "rate": 0, "cumulative": 650},
    ]
    ours = message.encode("commodity_read", reply=True, rc=0, records=recs)
    assert ours[7] == 0x80 and ours[20] == 0x07
    reports = pcta_decode(ours[:-2]).body.reports
    assert reports[0].code == 0x80 and not isinstance(reports[0].code, enums.CommodityCode)
    assert reports[1].code is enums.CommodityCode.Present_Energy_Storage
    ours_recs = message.decode(ours).fields["records"]
    assert ours_recs[0]["code"] == 0 and ours_recs[0]["measured"] is True
    assert message.decode(ours).to_dict()["fields"]["records"][0]["name"] == "electricity_consumed"


def test_commodity_get_request_pcta_cannot_decode():
    # PINNED PCTA BUG (not in section 7): the Get Commodity Read request `06 00` (LEN 2,
    # section 5 vector #20) makes PCTA's decode() raise "body too short", because it
    # decodes every op1 0x06 message as a reply. Ours reads it as the request.
    body = bytes.fromhex("080200020600")
    with pytest.raises(codec.CodecError):
        pcta_decode(body)
    m = message.decode(ck(body))
    assert ck(body) == bytes.fromhex("080200020600F64C")
    assert (m.name, m.reply, m.fields) == ("commodity_read", False, {})


def test_commodity_truncated_record_differs():
    # DIFFERENCE (decoding): a reply whose records are not a multiple of 13 bytes
    # (section 4.3: N = (LEN - 3) / 13). PCTA drops the partial record silently; ours
    # raises CodecError.
    full = message.encode(
        "commodity_read",
        reply=True,
        rc=0,
        records=[{"code": 0, "rate": 1, "cumulative": 2}, {"code": 6, "rate": 3, "cumulative": 4}],
    )
    body = full[:2] + bytes((0, 3 + 13 + 5)) + full[4 : 4 + 3 + 13 + 5]
    assert len(pcta_decode(body).body.reports) == 1
    with pytest.raises(CodecError):
        message.decode(ck(body))


# ----------------------------------------------------------------------------- GetInformation

INFO_MANDATORY = dict(rc=0, version="A", vendor_id=0x0C22, device_type=3, revision=1, capability=0x40, reserved=0)
MODEL = "ABCDEFGHIJKLMNOP"  # 16 chars
SERIAL = "0123456789ABCDEF"  # 16 chars
FW = dict(fw_year=15, fw_month=2, fw_day=20, fw_major=1, fw_minor=7)


def test_get_information_request_both_read_it():
    body = bytes.fromhex("080200020101")
    assert message.decode(ck(body)).name == "get_information"
    assert ck(body) == bytes.fromhex("08020002010104 43".replace(" ", ""))  # section 5 #17
    theirs = pcta_decode(body)
    assert theirs.category is enums.IntermediateDRCategory.Device_Mode
    assert theirs.body.opcode2 == 0x01 and theirs.body.response_code is None


info_mandatory = st.fixed_dictionaries(
    {
        "rc": st.integers(0, 0xFF),
        "version": st.sampled_from(["A", "B", "C"]),
        "vendor_id": st.integers(0, 0xFFFF),
        "device_type": st.integers(0, 0xFFFF),
        "revision": st.integers(0, 0xFFFF),
        "capability": st.integers(0, 0x1FF),  # the 9 bits PCTA knows; it masks the rest
        "reserved": st.integers(0, 0xFF),
    }
)


@HYP
@given(info_mandatory)
def test_get_information_mandatory_reply_hypothesis_matches(fields):
    # LEN 16, mandatory fields only (what Rinnai sends, section 4.2): both agree.
    ours = message.encode("get_information", reply=True, **fields)
    assert len(ours) == 6 + 16
    t = pcta_decode(ours[:-2]).body
    assert message.decode(ours).fields == fields
    assert t.opcode2 == 0x81 and ev(t.response_code) == fields["rc"]
    assert t.cta2045_version == fields["version"]
    assert t.vendor_id == fields["vendor_id"]
    assert ev(t.device_type) == fields["device_type"]
    assert t.device_revision == fields["revision"]
    assert t.capabilities.value == fields["capability"]
    assert t.reserved == fields["reserved"]
    assert t.model is None and t.serial is None and t.fw_year is None


def test_get_information_53_byte_reply_pcta_reads_15_byte_strings():
    # PINNED PCTA BUG, PROTOCOL.md sections 4.2 and 7 ("GetInformation string width: PCTA is
    # wrong; use 16 bytes"): model and serial are 16 bytes each, firmware date and
    # version follow at offsets 52..56. PCTA reads 15-byte strings, so everything after
    # the model is shifted by one byte and then by two.
    ours = message.encode("get_information", reply=True, model=MODEL, serial=SERIAL, **INFO_MANDATORY, **FW)
    assert len(ours) == 6 + 53
    f = message.decode(ours).fields
    assert f["model"] == MODEL and f["serial"] == SERIAL
    assert {k: f[k] for k in FW} == FW
    assert message.decode(ours).to_dict()["fields"]["fw_date"] == "2015-03-20"  # month 0 = January

    t = pcta_decode(ours[:-2]).body
    assert t.vendor_id == 0x0C22 and t.device_type is enums.DeviceType.Water_Heater_Heat_Pump  # still fine
    assert t.model == "ABCDEFGHIJKLMNO"  # 15 chars: "P" is lost from the model...
    assert t.serial == "P0123456789ABCD"  # ...and starts the serial; "EF" fall off its end
    assert t.fw_year == ord("E") == 69  # serial byte 15 read as the year (2069)
    assert t.fw_month == ord("F") == 70  # serial byte 16 read as the month
    assert t.fw_day == 15  # our fw_year
    assert t.fw_major == 2  # our fw_month
    assert t.fw_minor == 20  # our fw_day; our fw_major and fw_minor are never read


def test_get_information_32_and_48_byte_replies_pcta_shifted():
    # Same bug for the shorter optional forms (LEN 32: + model, LEN 48: + serial).
    ours = message.encode("get_information", reply=True, model=MODEL, **INFO_MANDATORY)
    assert len(ours) == 6 + 32
    assert message.decode(ours).fields["model"] == MODEL
    t = pcta_decode(ours[:-2]).body
    assert t.model == MODEL[:15] and t.serial is None  # one byte left, not a 15-byte serial

    ours = message.encode("get_information", reply=True, model=MODEL, serial=SERIAL, **INFO_MANDATORY)
    assert len(ours) == 6 + 48
    assert message.decode(ours).fields["serial"] == SERIAL
    t = pcta_decode(ours[:-2]).body
    assert t.model == MODEL[:15] and t.serial == "P" + SERIAL[:14]
    assert (t.fw_year, t.fw_month, t.fw_day) == (ord("E"), ord("F"), None)  # firmware fields from nothing


def test_get_information_short_strings_pcta_serial_shifted():
    # PINNED PCTA BUG (sections 4.2, 7), short NUL-padded strings: PCTA's model still
    # reads right but its serial starts with that NUL and comes out empty.
    ours = message.encode("get_information", reply=True, model="REHP65", serial="SN42", **INFO_MANDATORY, **FW)
    f = message.decode(ours).fields
    assert (f["model"], f["serial"]) == ("REHP65", "SN42")
    t = pcta_decode(ours[:-2]).body
    assert t.model == "REHP65"
    assert t.serial == ""  # serial byte 0 is our model's NUL padding
    assert t.fw_year == 0  # from our serial's NUL padding, not 15


# ----------------------------------------------------------------------------- section 5 vectors

VECTORS = [  # (frame, our encode args, PCTA body builder or None)
    ("080100020111E94E", ("shed", {"duration": 0x11}), lambda: app.shed(10)),
    ("0801000201010A3E", ("shed", {"duration": 1}), lambda: app.shed(Duration.of_seconds(2))),
    ("0801000201000C3D", ("shed", {"duration": 0}), lambda: app.shed()),
    ("080100020200093F", ("end_shed", {}), lambda: app.end()),
    ("08010002171E8D87", ("load_up", {"duration": 0x1E}), lambda: app.load_up(30)),
    ("080100020A2A9C79", ("critical_peak", {"duration": 0x2A}), lambda: app.critical_peak(59)),
    ("080100020B00ED51", ("grid_emergency", {"duration": 0}), lambda: app.grid_emergency()),
    ("080100020301 0442", ("app_ack", {"opcode": 1}), lambda: app.BasicDR(Cat.ACK, 1)),
    ("08010002030EE94F", ("app_ack", {"opcode": 0x0E}), lambda: app.BasicDR(Cat.ACK, 0x0E)),
    ("080100021300D561", ("op_state", {"state": 0}), lambda: app.BasicDR(Cat.State_Query_Response, 0)),
    ("080100021302D163", ("op_state", {"state": 2}), lambda: app.BasicDR(Cat.State_Query_Response, 2)),
    ("080100021200D85F", ("op_state_query", {}), lambda: app.BasicDR(Cat.Operational_State_Query)),
    ("080100020741778A", ("present_price", {"price": basic.price_code(1.0)}), None),
    ("08010002164E30B5", ("time_sync", {"timesync": basic.timesync_code(2, 14)}), None),
    ("080200020C00E458", ("advanced_load_up", {}), lambda: app.get_advanced_load_up()),
]


@pytest.mark.parametrize("hexframe,ours_args,pcta_build", VECTORS)
def test_section5_vectors(hexframe, ours_args, pcta_build):
    want = bytes.fromhex(hexframe.replace(" ", ""))
    ours = message.encode(ours_args[0], **ours_args[1])
    assert ours == want
    if pcta_build is not None:
        same_frame(ours, pcta_build().to_bytes())
