# The seven frames published from a Reliance DHPST's 9-bit bus (start-of-frame bit
# removed), in the order published. All pass the 8-bit additive checksum.

GOLDEN = {
    "A": "90 00 90",
    "B": "40 08 1e 00 00 00 03 00 78 00 00 00 00 00 00 71 44 74 6a 49 47 30 00 02 00 00 00 00 00 00"
    " 00 00 00 00 00 00 00 00 00 69 cd 00 00 00 00 16 02 00 00 00 09 00 00 00 00 00 00 41 08 00"
    " 00 50 00 26",
    "C": "40 0b 0d 02 00 62 00 5a 00 5e 00 52 00 00 00 ff ff 00 00 00 00 00 00 00 00 00 01 00 02 c7",
    "D": "8c 00 8c",
    "E": "82 00 82",
    "F": "40 00 02 05 00 b2 00 f9",
    "G": "40 0d 0c 00 01 00 3c 00 00 00 10 00 78 00 78 01 01 00 00 00 00 00 01 00 00 00 00 99",
}
ORDER = "ABCDEFG"


def golden(name):
    return bytes.fromhex(GOLDEN[name].replace(" ", ""))


def synthetic_capture():
    """A PARMRK capture built from the golden frames: noise (unflagged bytes, no frame
    open) before and between frames, and frame C with one byte changed (its checksum
    then fails). Returns (capture bytes, the six valid frames, the corrupted frame)."""
    from ninebit.capture import escape
    from ninebit.frame import symbols

    syms = [0x11, 0x22, 0xFF]  # noise before the first frame, a literal FF among it
    valid = []
    bad = None
    for i, name in enumerate(ORDER):
        f = golden(name)
        if name == "C":
            f = bytearray(f)
            f[5] ^= 0x01  # 0x62 -> 0x63: one bit flipped on the wire
            f = bytes(f)
            bad = f
        else:
            valid.append(f)
        syms += symbols(f)
        syms += [0x00, 0x55 + i]  # noise between frames
    return escape(syms), valid, bad
