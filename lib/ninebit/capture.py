# The Linux capture format of the 9-bit bus: the adapter opened at 19200 with SPACE
# parity and INPCK|PARMRK, so a byte whose 9th bit is 1 fails the parity check and
# arrives as FF 00 x; a literal data byte 0xFF arrives doubled as FF FF; any other byte
# as itself. Un-escaping turns such a stream into symbols (byte | FLAG), across any
# split of the stream into chunks; escaping builds a stream from symbols.

from ninebit import FLAG


class Unescaper:
    def __init__(self):
        self.state = 0  # 0: plain; 1: after FF; 2: after FF 00
        self.bad = 0  # FF followed by neither 00 nor FF (not a PARMRK stream)

    def feed(self, data, out):
        """Append the symbols of data (bytes) to out (a list); returns how many."""
        k = len(out)
        st = self.state
        for b in data:
            if st == 0:
                if b == 0xFF:
                    st = 1
                else:
                    out.append(b)
            elif st == 1:
                if b == 0xFF:
                    out.append(0xFF)
                    st = 0
                elif b == 0:
                    st = 2
                else:  # not PARMRK: keep both bytes as data
                    self.bad += 1
                    out.append(0xFF)
                    out.append(b)
                    st = 0
            else:
                out.append(b | FLAG)
                st = 0
        self.state = st
        return len(out) - k


def unescape(data):
    """Symbols of a whole capture."""
    out = []
    Unescaper().feed(data, out)
    return out


def escape(syms):
    """The PARMRK stream of symbols (the inverse of unescape)."""
    out = bytearray()
    for s in syms:
        v = s & 0xFF
        if s & FLAG:
            out += bytes((0xFF, 0, v))
        elif v == 0xFF:
            out += b"\xff\xff"
        else:
            out.append(v)
    return bytes(out)
