# Message.to_dict: plain JSON-able dicts with type, names and scaled values for every
# kind of message, as the HTTP API and the logs use them.

import json

from checks import h
from vectors import ALL_VALID, LINK

from cta2045 import message
from cta2045.frame import build
from cta2045.names import type_name


def test_every_vector_gives_a_json_dict():
    for text, name, _ in ALL_VALID + LINK:
        d = message.decode(h(text)).to_dict()
        assert d["name"] == name
        assert json.loads(json.dumps(d)) == d


def test_type_names():
    assert type_name(0x0801) == "basic_dr" and type_name(0x0802) == "intermediate_dr"
    assert type_name(0x0803) == "data_link" and type_name(0x0804) == "commissioning"
    assert type_name(0x0901) == "pass_through" and type_name(0x090C) == "pass_through"
    assert type_name(0x0832) == "unknown" and type_name(0) == "link"
    assert type_name(0x0312) == "vendor" and type_name(0xF001) == "vendor"


def test_dict_shape():
    d = message.decode(h("08 01 00 02 01 11 E9 4E")).to_dict()
    assert d == {
        "type": "basic_dr",
        "mt": "0801",
        "name": "shed",
        "length": 2,
        "op1": 1,
        "op2": 0x11,
        "checksum_ok": True,
        "fields": {"duration": 0x11, "duration_s": 578},
    }
    bad = message.decode(h("08 01 00 02 03 02 04 42")).to_dict()
    assert bad["checksum_ok"] is False and bad["fields"]["opcode_name"] == "end_shed"
    g = message.decode(h("08 02 00 02 01 01 04 43")).to_dict()
    assert g["role"] == "get" and g["type"] == "intermediate_dr"
    v = message.decode(build(0x0901, h("01 02"))).to_dict()
    assert v["type"] == "pass_through" and v["name"] == "unknown_type" and v["payload"] == "0102"
