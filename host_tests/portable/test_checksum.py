# Checksum and whole-frame validity (PROTOCOL.md section 1.3) on every published vector.

from checks import h, rows
from vectors import ALL_VALID, BAD_CHECKSUM, BAD_CHECKSUM_FIXED

from cta2045 import frame


def test_worked_example_shed_10_min():
    body = h("08 01 00 02 01 11")
    assert frame.checksum(body) == 0xE94E
    assert frame.build(0x0801, h("01 11")) == h("08 01 00 02 01 11 E9 4E")


def test_running_sums_of_worked_example():
    # docs 1.3 table: c1 and c2 after each byte of 08 01 00 02 01 11
    c1s = [178, 179, 179, 181, 182, 199]
    c2s = [178, 102, 26, 207, 134, 78]
    body = h("08 01 00 02 01 11")
    for i in range(len(body)):
        assert frame._sums(body[: i + 1]) == (c1s[i], c2s[i])


def test_every_vector_checksum_and_validity():
    for text, _, _ in rows(ALL_VALID, 30):
        f = h(text)
        assert frame.valid(f), text
        assert frame.checksum(f[:-2]) == f[-2] << 8 | f[-1], text
        assert frame.build(f[0] << 8 | f[1], f[4:-2]) == f, text


def test_broken_vector_fails():
    assert not frame.valid(h(BAD_CHECKSUM))
    assert frame.valid(h(BAD_CHECKSUM_FIXED))
    assert frame.checksum(h(BAD_CHECKSUM)[:-2]) == 0x0243


def test_every_single_bit_flip_is_detected():
    f = h("08 02 00 07 0C 00 00 3C 00 05 02 A9 4B")
    for i in range(len(f)):
        for bit in range(8):
            g = bytearray(f)
            g[i] ^= 1 << bit
            assert not frame.valid(g), (i, bit)


def test_validity_over_a_view_of_a_buffer():
    data = memoryview(b"\xff\xff" + h("08 01 00 02 01 11 E9 4E") + b"\x00")
    assert frame.valid(data[2:10])
    assert not frame.valid(data[1:9])
