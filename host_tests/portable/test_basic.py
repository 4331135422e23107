# Basic DR (PROTOCOL.md section 3): every opcode both ways, and the value encodings of 3.2.

from checks import h, raises_codec_error, rows
from vectors import ALL_VALID

from cta2045 import basic, message
from cta2045.frame import build


def test_vectors_decode_to_name_and_fields():
    for text, name, fields in rows(ALL_VALID, 30):
        m = message.decode(h(text))
        assert m.name == name, (text, m.name)
        if name != "unknown_type":
            assert m.fields == fields, (text, m.fields)
        assert m.checksum_ok


def test_vectors_encode_back_to_the_same_bytes():
    for text, name, fields in rows(ALL_VALID, 30):
        m = message.decode(h(text))
        if name == "unknown_type":
            continue
        kw = dict(fields)
        if name == "type_supported_query":
            kw["mt"] = m.mt
        assert message.encode(name, m.reply, **kw) == h(text), text


def test_every_basic_opcode_both_directions():
    expected = {
        0x01: "shed",
        0x02: "end_shed",
        0x03: "app_ack",
        0x04: "app_nak",
        0x06: "power_level",
        0x07: "present_price",
        0x08: "next_price",
        0x09: "time_remaining",
        0x0A: "critical_peak",
        0x0B: "grid_emergency",
        0x0C: "grid_guidance",
        0x0E: "comm_status",
        0x11: "customer_override",
        0x12: "op_state_query",
        0x13: "op_state",
        0x14: "sleep",
        0x15: "wake",
        0x16: "time_sync",
        0x17: "load_up",
        0x18: "pending_event_time",
        0x19: "pending_event_type",
        0x1A: "reboot",
    }
    for op1 in range(256):
        for op2 in (0, 1, 0x7F, 0x80, 0xFE, 0xFF):
            f = build(0x0801, bytes((op1, op2)))
            m = message.decode(f)
            if op1 in expected:
                assert m.name == expected[op1]
                (field,) = m.fields.keys()
                assert m.fields[field] == op2
                assert message.encode(m.name, **m.fields) == f
            else:  # lenient: unknown opcodes keep their bytes
                assert m.name == "unknown_opcode" and m.fields == {"op2": op2}
                assert m.op1 == op1 and m.op2 == op2


def test_duration_examples():
    for code, seconds in (
        (0x0F, 450),
        (0x1E, 1800),
        (0x2A, 3528),
        (0x2B, 3698),
        (0x3C, 7200),
        (0x11, 578),
        (0xFE, 129032),
    ):
        assert basic.duration_seconds(code) == seconds
        assert basic.duration_code(seconds) == code
    assert basic.duration_seconds(0) is None and basic.duration_seconds(0xFF) is None


def test_duration_rounds_down_and_clamps():
    assert basic.duration_code(None) == 0
    assert basic.duration_code(600) == 0x11  # 578 s, the worked example
    assert basic.duration_code(1799) == 0x1D
    assert basic.duration_code(0) == 1 and basic.duration_code(1) == 1 and basic.duration_code(2) == 1
    assert basic.duration_code(8) == 2 and basic.duration_code(7) == 1
    assert basic.duration_code(129032) == 0xFE
    assert basic.duration_code(130049) == 0xFE and basic.duration_code(130050) == 0xFF
    assert basic.duration_code(10**9) == 0xFF
    raises_codec_error(basic.duration_code, -1)
    for n in range(1, 255):  # every code survives seconds -> code
        assert basic.duration_code(basic.duration_seconds(n)) == n
        assert basic.duration_code(basic.duration_seconds(n) + 1) == n


def test_relative_price():
    assert basic.price_ratio(0x41) == 1.0
    assert abs(basic.price_ratio(0x65) - 2.0) < 0.02
    assert abs(basic.price_ratio(0x99) - 4.01) < 0.01
    assert abs(basic.price_ratio(0xFE) - 9.79) < 0.01
    assert basic.price_ratio(0) is None and basic.price_ratio(0xFF) is None
    assert basic.price_code(1.0) == 0x41 and basic.price_code(2.0) == 0x65 and basic.price_code(4.0) == 0x99
    assert basic.price_code(None) == 0 and basic.price_code(0) == 1 and basic.price_code(50) == 0xFF
    for n in range(1, 255):
        assert basic.price_code(basic.price_ratio(n)) == n
    raises_codec_error(basic.price_code, -0.5)


def test_power_level():
    assert basic.power_code(50) == 63 and basic.power_code(100) == 127 and basic.power_code(0) == 0
    assert basic.power_code(50, produce=True) == 0x80 | 63
    pct, produce = basic.power_percent(0x80 | 127)
    assert pct == 100 and produce
    pct, produce = basic.power_percent(63)
    assert abs(pct - 49.6) < 0.1 and not produce
    raises_codec_error(basic.power_code, 101)
    raises_codec_error(basic.power_code, -1)
    d = message.decode(message.encode("power_level", power=basic.power_code(50))).to_dict()
    assert d["fields"]["percent"] == 49.6 and d["fields"]["direction"] == "absorb"


def test_time_sync():
    assert basic.timesync_code(2, 14) == 0x4E  # Tuesday 14:00
    d = message.decode(h("08 01 00 02 16 4E 30 B5")).to_dict()["fields"]
    assert d["weekday"] == "tuesday" and d["hour"] == 14
    raises_codec_error(basic.timesync_code, 7, 0)
    raises_codec_error(basic.timesync_code, 0, 24)


def test_operational_states_and_nak_reasons_are_named():
    names = [message.decode(message.encode("op_state", state=s)).to_dict()["fields"]["state_name"] for s in range(16)]
    assert names[0] == "idle_normal" and names[2] == "running_curtailed" and names[3] == "running_heightened"
    assert names[11] == "idle_opted_out" and names[14] == "idle_price_stream" and names[15] is None
    reasons = [message.decode(message.encode("app_nak", reason=r)).to_dict()["fields"]["reason_name"] for r in range(6)]
    assert reasons == [
        "no_reason",
        "opcode1_not_supported",
        "opcode2_invalid",
        "busy",
        "length_invalid",
        "customer_override",
    ]
    ack = message.decode(h("08 01 00 02 03 0E E9 4F")).to_dict()["fields"]
    assert ack["opcode_name"] == "comm_status"
    cs = [message.decode(message.encode("comm_status", status=s)).to_dict()["fields"]["status_name"] for s in range(3)]
    assert cs == ["lost", "found", "poor"]
    g = [
        message.decode(message.encode("grid_guidance", guidance=s)).to_dict()["fields"]["guidance_name"]
        for s in range(3)
    ]
    assert g == ["bad", "neutral", "good"]


def test_duration_fields_are_scaled_in_dicts():
    f = message.decode(h("08 01 00 02 01 11 E9 4E")).to_dict()["fields"]
    assert f["duration_s"] == 578 and f["duration"] == 0x11
    f = message.decode(h("08 01 00 02 0B 00 ED 51")).to_dict()["fields"]
    assert f["duration_s"] is None and f["duration"] == 0  # 0x00: unknown
    f = message.decode(message.encode("load_up", duration=0xFF)).to_dict()["fields"]
    assert f["duration_s"] is None and f["duration"] == 0xFF  # too long
    f = message.decode(h("08 01 00 02 07 41 77 8A")).to_dict()["fields"]
    assert f["price_ratio"] == 1.0


def test_encode_rejects_bad_fields():
    raises_codec_error(message.encode, "shed", duration=256)
    raises_codec_error(message.encode, "shed", duration=-1)
    raises_codec_error(message.encode, "shed", seconds=5)
    raises_codec_error(message.encode, "no_such_message")


def test_non_finite_inputs_raise_codec_error():
    inf = float("inf")
    nan = float("nan")
    assert basic.duration_code(inf) == 0xFF  # longer than representable
    raises_codec_error(basic.duration_code, nan)
    raises_codec_error(basic.duration_code, -inf)
    raises_codec_error(basic.price_code, nan)
    raises_codec_error(basic.price_code, inf)
    raises_codec_error(basic.power_code, nan)
