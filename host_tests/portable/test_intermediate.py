# Intermediate DR (PROTOCOL.md section 4): GetInformation, commodity read, UTC time, get/set
# values, Advanced Load Up, autonomous cycling, response codes; lenient decoding.

from checks import h, raises_codec_error

from cta2045 import message
from cta2045.frame import build

INFO = {
    "rc": 0,
    "version": "A",
    "vendor_id": 0x0C22,
    "device_type": 3,
    "revision": 7,
    "capability": 0x41,
    "reserved": 0,
}
MODEL = {"model": "HPWH-65-ABCDEFGH"}  # all 16 characters used
SERIAL = {"serial": "SN0123456789ABCD"}
FW = {"fw_year": 15, "fw_month": 2, "fw_day": 28, "fw_major": 1, "fw_minor": 9}


def _fields(*parts):
    d = {}
    for p in parts:
        d.update(p)
    return d


def test_get_information_request():
    assert message.encode("get_information") == h("08 02 00 02 01 01 04 43")


def test_get_information_replies_of_len_16_32_48_53():
    for parts, length in (
        ((INFO,), 16),
        ((INFO, MODEL), 32),
        ((INFO, MODEL, SERIAL), 48),
        ((INFO, MODEL, SERIAL, FW), 53),
    ):
        fields = _fields(*parts)
        f = message.encode("get_information", reply=True, **fields)
        assert len(f) == length + 6
        m = message.decode(f)
        assert m.name == "get_information" and m.reply and m.fields == fields
        assert f[4:6] == h("01 81")
    d = m.to_dict()
    assert d["role"] == "reply"
    assert d["fields"]["device_type_name"] == "water_heater_heat_pump"
    assert d["fields"]["capabilities"] == ["cycling", "advanced_load_up"]
    assert d["fields"]["fw_date"] == "2015-03-28"  # month 0 = January
    assert d["fields"]["rc_name"] == "success"


def test_get_information_model_offsets_match_the_docs():
    f = message.encode("get_information", reply=True, **_fields(INFO, MODEL, SERIAL, FW))
    assert f[20:36] == b"HPWH-65-ABCDEFGH"  # frame offset 20, 16 bytes
    assert f[36:52] == b"SN0123456789ABCD"
    assert f[52] == 15 and f[53] == 2 and f[54] == 28


def test_get_information_padding_is_stripped():
    fields = _fields(INFO, {"model": "RE65"}, {"serial": "0"})
    p = bytearray(message.encode("get_information", reply=True, **fields)[4:-2])
    p[16 + 4 : 32] = b" " * 12  # model at payload offset 16: space padding, not NULs
    m = message.decode(build(0x0802, p))
    assert m.fields["model"] == "RE65" and m.fields["serial"] == "0"


def test_get_information_truncated_between_lengths():
    f = message.encode("get_information", reply=True, **_fields(INFO, MODEL))
    raises_codec_error(message.decode, build(0x0802, f[4:-2][:20]))
    raises_codec_error(message.decode, build(0x0802, f[4:-2][:10]))
    # an error reply is just the response code
    m = message.decode(build(0x0802, h("01 81 01")))
    assert m.fields == {"rc": 1} and m.to_dict()["fields"]["rc_name"] == "not_implemented"


def test_commodity_read_request_and_reply():
    assert message.encode("commodity_read") == h("08 02 00 02 06 00 F6 4C")
    one = message.encode("commodity_read", commodity=7)
    assert one[2:7] == h("00 03 06 00 07") and message.decode(one).fields == {"commodity": 7}
    recs = [
        {"code": 0, "measured": False, "rate": 4500, "cumulative": 0},
        {"code": 6, "measured": True, "rate": 0, "cumulative": 12011},
        {"code": 7, "measured": True, "rate": 0, "cumulative": (1 << 48) - 1},
    ]
    f = message.encode("commodity_read", reply=True, rc=0, records=recs)
    assert len(f) == 6 + 3 + 3 * 13
    assert f[7] == 0x00 and f[20] == 0x86  # bit 7 = measured
    assert f[8:14] == h("00 00 00 00 11 94")  # 4500 as uint48 BE
    m = message.decode(f)
    assert m.fields == {"rc": 0, "records": recs}
    d = m.to_dict()["fields"]["records"]
    assert d[1]["name"] == "total_storage_capacity" and d[1]["cumulative"] == 12011
    assert d[0]["name"] == "electricity_consumed" and d[0]["rate"] == 4500


def test_set_commodity_read_carries_records():
    recs = [{"code": 0, "measured": True, "rate": 1, "cumulative": 2}]
    f = message.encode("commodity_read", records=recs)
    assert len(f) == 6 + 2 + 13
    assert message.decode(f).fields == {"records": recs}


def test_commodity_record_truncated():
    f = message.encode("commodity_read", reply=True, rc=0, records=[{"code": 0, "rate": 1, "cumulative": 2}])
    raises_codec_error(message.decode, build(0x0802, f[4:-3]))


def test_utc_time_get_set_reply():
    assert message.encode("utc_time") == h("08 02 00 02 02 00 03 44")
    utc = 831254400  # 2026-05-05T00:00:00Z counted from 2000-01-01
    f = message.encode("utc_time", utc=utc, tz=-20, dst=4)
    assert f[2:4] == h("00 08") and f[6:10] == utc.to_bytes(4, "big") and f[10] == 0xEC
    m = message.decode(f)
    assert m.fields == {"utc": utc, "tz": -20, "dst": 4} and not m.reply
    d = m.to_dict()["fields"]
    assert d["utc_unix"] == 1777939200 and d["tz_hours"] == -5.0  # 2026-05-05T00:00:00Z and d["dst_hours"] == 1.0
    r = message.encode("utc_time", reply=True, rc=0, utc=utc, tz=-20, dst=4)
    assert r[2:4] == h("00 09") and r[4:6] == h("02 80")
    assert message.decode(r).fields == {"rc": 0, "utc": utc, "tz": -20, "dst": 4}
    assert message.decode(message.encode("utc_time", reply=True, rc=6)).fields == {"rc": 6}


def test_energy_price_groups():
    # Set Energy Price: cost (2), currency (2), digits, then the optional expiry (4) and
    # next cost (2); the reply carries the same after its RC
    f = message.encode("energy_price", cost=1250, currency=840, digits=3, expiry=850003200, next_cost=900)
    assert f == h("08 02 00 0d 03 00 04 e2 03 48 03 32 aa 05 00 03 84 24 78")
    m = message.decode(f)
    assert m.fields == {"cost": 1250, "currency": 840, "digits": 3, "expiry": 850003200, "next_cost": 900}
    short = message.encode("energy_price", cost=7, currency=978, digits=0)
    assert message.decode(short).fields == {"cost": 7, "currency": 978, "digits": 0}
    assert message.encode("energy_price") == build(0x0802, h("03 00"))  # the Get
    r = message.decode(message.encode("energy_price", reply=True, rc=0, cost=7, currency=978, digits=0))
    assert r.reply and r.fields == {"rc": 0, "cost": 7, "currency": 978, "digits": 0}
    raises_codec_error(message.encode, "energy_price", cost=70000, currency=978, digits=0)  # 2 bytes
    raises_codec_error(message.decode, build(0x0802, h("03 00 04 e2 03")))  # a group cut short


def test_get_set_values():
    assert message.encode("setpoint") == h("08 02 00 02 03 03 F9 49")
    assert message.encode("present_temperature") == h("08 02 00 02 03 04 F7 4A")
    f = message.encode("setpoint", device_type=2, temp_units=0, setpoint1=125, setpoint2=-32768)
    assert f == h("08 02 00 09 03 03 00 02 00 00 7D 80 00 FD 3E")
    m = message.decode(message.encode("setpoint", reply=True, rc=0, device_type=2, temp_units=1, setpoint1=52))
    assert m.fields == {"rc": 0, "device_type": 2, "temp_units": 1, "setpoint1": 52}
    assert m.to_dict()["fields"]["temp_units_name"] == "C"
    t = message.decode(
        message.encode("present_temperature", reply=True, rc=0, device_type=3, temp_units=0, temperature=-4)
    )
    assert t.fields["temperature"] == -4 and len(t.payload) == 8
    o = message.encode("temperature_offset", offset=-3, temp_units=0)
    assert o[2:4] == h("00 04") and message.decode(o).fields == {"offset": -3, "temp_units": 0}
    r = message.decode(message.encode("temperature_offset", reply=True, rc=0, offset=5, temp_units=1))
    assert len(r.payload) == 5 and r.fields["offset"] == 5
    s = message.decode(build(0x0802, h("03 83 00")))  # a Set reply: just the RC
    assert s.name == "setpoint" and s.reply and s.fields == {"rc": 0}


def test_advanced_load_up():
    assert message.encode("advanced_load_up", duration_min=60, value=5, units=2) == h(
        "08 02 00 07 0C 00 00 3C 00 05 02 A9 4B"
    )
    assert message.encode("advanced_load_up") == h("08 02 00 02 0C 00 E4 58")
    full = {
        "duration_min": 240,
        "value": 0xFFFF,
        "units": 3,
        "efficiency": 90,
        "event_id": 0xDEADBEEF,
        "start": 831254400,
        "start_rand": 5,
        "end_rand": 10,
    }
    f = message.encode("advanced_load_up", **full)
    assert len(f) == 6 + 2 + 16
    assert message.decode(f).fields == full
    d = message.decode(f).to_dict()["fields"]
    assert d["units_name"] == "kWh" and "energy_wh" not in d  # 0xFFFF: as much as safely possible
    reply = message.decode(message.encode("advanced_load_up", reply=True, rc=0, duration_min=30, value=12, units=1))
    assert reply.fields == {"rc": 0, "duration_min": 30, "value": 12, "units": 1}
    assert reply.to_dict()["fields"]["energy_wh"] == 120
    assert message.decode(h("08 02 00 03 0C 80 00 9B 20")).fields == {"rc": 0}
    raises_codec_error(message.encode, "advanced_load_up", duration_min=60, value=5)  # units missing
    raises_codec_error(
        message.encode, "advanced_load_up", duration_min=60, value=5, units=2, event_id=1
    )  # skips efficiency


def test_autonomous_cycling():
    start = {"event_id": 7, "start": 1000, "duration_min": 60, "duty": 50}
    f = message.encode("cycling_start", **start)
    assert f[2:4] == h("00 0D") and f[4:6] == h("04 00")
    assert message.decode(f).fields == start
    opt = dict(start, start_rand=1, end_rand=2, criticality=3)
    assert message.decode(message.encode("cycling_start", **opt)).fields == opt
    t = message.encode("cycling_terminate", event_id=7, end_rand=0)
    assert t[4:6] == h("04 01") and message.decode(t).fields == {"event_id": 7, "end_rand": 0}
    assert message.decode(build(0x0802, h("04 81 00"))).name == "cycling_terminate"


def test_response_codes_are_named():
    names = [message.decode(build(0x0802, bytes((0x0C, 0x80, rc)))).to_dict()["fields"]["rc_name"] for rc in range(10)]
    assert names == [
        "success",
        "not_implemented",
        "bad_value",
        "command_length_error",
        "response_length_error",
        "busy",
        "other_error",
        "customer_override",
        "not_enabled",
        None,
    ]


def test_unknown_opcode_keeps_raw_bytes():
    m = message.decode(build(0x0802, h("05 00 01 02 03")))
    assert m.name == "unknown_opcode" and m.fields == {"extra": "010203"}
    assert m.op1 == 5 and m.op2 == 0
    m = message.decode(build(0x0802, h("01 01 AA")))  # known kind with unexpected data
    assert m.name == "get_information" and m.fields == {"extra": "aa"}
    u = message.decode(h("08 32 00 02 01 01 E2 34"))
    assert u.name == "unknown_type" and u.payload == h("01 01")
    assert u.to_dict()["payload"] == "0101"


def test_roles_of_requests_and_replies():
    role = lambda f: message.decode(f).to_dict()["role"]  # noqa: E731
    assert role(message.encode("commodity_read")) == "get"
    assert role(message.encode("commodity_read", commodity=0)) == "get"  # one commodity, 4.3
    assert role(message.encode("utc_time", utc=1, tz=0, dst=0)) == "set"
    assert role(message.encode("utc_time", reply=True, rc=0)) == "reply"


def test_find_is_the_name_to_opcode_lookup():
    assert message.find("shed") == (0x0801, b"\x01", "duration")
    assert message.find("max_payload") == (0x0803, b"\x19", "code")
    mt, op, groups = message.find("setpoint", reply=True)
    assert (mt, op) == (0x0802, b"\x03\x83") and groups[0] == "B rc"
    assert message.find("get_information")[1:] == (b"\x01\x01", ())
    assert "no_such_kind" in str(raises_codec_error(message.find, "no_such_kind"))
