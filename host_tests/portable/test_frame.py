# Frame building and structure: header, 13-bit length, link ACK/NAK (docs 1.2, 2.1).

from checks import h, raises_codec_error

from cta2045 import frame, message


def test_build_header_and_length():
    f = frame.build(0x0802, bytes(300))
    assert f[:4] == h("08 02 01 2C")
    assert len(f) == 306
    assert frame.valid(f)


def test_reserved_length_bits_masked_on_receive():
    f = bytearray(frame.build(0x0801, h("01 11")))
    f[2] |= 0xE0  # reserved bits set by the sender
    f[-2:] = frame.checksum(f[:6]).to_bytes(2, "big")
    m = message.decode(f)
    assert m.name == "shed" and m.fields == {"duration": 0x11} and m.checksum_ok


def test_build_refuses_a_payload_beyond_13_bits():
    raises_codec_error(frame.build, 0x0802, bytes(0x2000))
    assert len(frame.build(0x0802, bytes(0x1FFF))) == 0x1FFF + 6


def test_link_ack_and_all_nak_codes():
    assert frame.ACK == h("06 00")
    names = []
    for code in range(8):
        n = frame.nak(code)
        assert n == bytes((0x15, code))
        d = message.decode(n).to_dict()
        assert d["name"] == "link_nak" and d["fields"]["nak"] == code
        names.append(d["fields"]["nak_name"])
    assert names == [
        "no_reason",
        "invalid_byte",
        "invalid_length",
        "checksum_error",
        "reserved",
        "message_timeout",
        "unsupported_message_type",
        "request_not_supported",
    ]
    assert message.decode(frame.ACK).name == "link_ack"


def test_decode_rejects_structural_problems():
    raises_codec_error(message.decode, h("08 01 00 02 01"))  # truncated
    raises_codec_error(message.decode, h("08 01 00 03 01 11 E9 4E"))  # LEN says 3, has 2
    raises_codec_error(message.decode, b"")
    raises_codec_error(message.decode, h("08"))
    raises_codec_error(message.decode, frame.build(0x0801, h("01 11 00")))  # Basic DR LEN 3
    raises_codec_error(message.decode, frame.build(0x0801, h("01")))
    raises_codec_error(message.decode, frame.build(0x0802, h("01")))
    raises_codec_error(message.decode, frame.build(0x0803, h("18")))


def test_decode_accepts_only_real_link_messages():
    raises_codec_error(message.decode, h("06 05"))  # 06 00 is the only ACK
    raises_codec_error(message.decode, h("15 09"))  # NAK codes are 0..7
    assert message.decode(h("15 07")).name == "link_nak"
