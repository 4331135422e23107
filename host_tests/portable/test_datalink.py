# Data-link messages (docs 2.5, 2.6): MTSQ, max payload query/response codes, bit rate,
# power mode.

from checks import h

from cta2045 import frame, message
from cta2045.frame import build


def test_mtsq_for_each_type():
    for mt, text in ((0x0801, "08 01 00 00 7E CD"), (0x0802, "08 02 00 00 7A D0"), (0x0803, "08 03 00 00 76 D3")):
        assert message.encode("type_supported_query", mt=mt) == h(text)
        m = message.decode(h(text))
        assert m.name == "type_supported_query" and m.mt == mt


def test_max_payload_codes():
    sizes = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1280, 1500, 2048, 4096]
    for code in range(len(sizes)):
        d = message.decode(message.encode("max_payload", code=code)).to_dict()
        assert d["fields"]["max_payload_bytes"] == sizes[code]
        assert d["type"] == "data_link"
    assert message.decode(message.encode("max_payload", code=0x0E)).to_dict()["fields"]["max_payload_bytes"] is None
    assert [frame.max_payload(c) for c in range(16)] == sizes + [None, None]
    assert message.encode("max_payload_query") == h("08 03 00 02 18 00 BA 75")


def test_bit_rate_and_power_mode():
    rates = [message.decode(message.encode("bit_rate", rate=c)).to_dict()["fields"]["bit_rate"] for c in range(9)]
    assert rates == [19200, 38400, 57600, 115200, 230400, 460800, 921600, 1843200, 3686400]
    m = message.decode(message.encode("power_mode", mode=3))
    assert m.name == "power_mode" and m.fields == {"mode": 3}


def test_longer_data_link_payload_is_kept():
    m = message.decode(build(0x0803, h("17 02 03 04")))
    assert m.name == "bit_rate" and m.fields == {"rate": 2, "extra": "0304"}
    assert message.encode("bit_rate", rate=2, extra="0304") == build(0x0803, h("17 02 03 04"))
    # slot opcodes 0x1A..0x1E (UNCONFIRMED) keep their bytes
    m = message.decode(build(0x0803, h("1B 02 03 04")))
    assert m.name == "unknown_opcode" and m.fields == {"op2": 2, "extra": "0304"}
