# CTA-2045 framing: checksum, frame build/split, link ACK/NAK, and FrameReader, the
# streaming receiver that turns bytes in any chunking into frame events.
# Facts: lib/cta2045/PROTOCOL.md sections 1.2 (layout), 1.3 (checksum), 2.1 (ACK/NAK),
# 2.3 (receive rules).

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from cta2045 import CodecError

# Message types (MT1 << 8 | MT2), section 1.2.
MT_BASIC = const(0x0801)
MT_INTERMEDIATE = const(0x0802)
MT_DATALINK = const(0x0803)
MT_COMMISSIONING = const(0x0804)

# Link NAK codes 0..7 (section 2.1) are named in names.LINK_NAK: 2 invalid length,
# 3 checksum error, 5 message timeout, 6 unsupported type, 7 request not supported.
ACK = b"\x06\x00"
LEN_MASK = const(0x1FFF)  # the top 3 bits of LEN are reserved: masked on receive, 0 on send
_HEADER = const(4)
_OVERHEAD = const(6)  # header + CK1 + CK2

# FrameReader events: handler(event, value).
EV_FRAME = const(1)  # value: bytearray, a whole frame with a valid checksum
EV_ACK = const(2)  # value: 0
EV_NAK = const(3)  # value: the NAK code
EV_BAD_CHECKSUM = const(4)  # value: bytearray, the frame as received (answer NAK 03)
EV_OVERSIZE = const(5)  # value: the declared payload length (answer NAK 02)
EV_TIMEOUT = const(6)  # value: bytearray, the partial frame given up by expire() (NAK 05)
EV_JUNK = const(7)  # value: bytearray, bytes that start no frame


def max_payload(code):
    """The bytes a peer takes in one frame for max-payload code 0x00..0x0D (section
    2.6), None for another code."""
    return 2 << code if code < 10 else (1280, 1500, 2048, 4096)[code - 10] if code < 14 else None


def nak(code):
    return bytes((0x15, code))


def _sums(data):
    # Fletcher-style running sums modulo 255 with seed 0xAA (section 1.3) over data
    # The sums are reduced only when c2 grows large: they stay below 2**30, MicroPython's
    # small-int range, so the loop never allocates.
    c1 = 0xAA
    c2 = 0
    for b in data:
        c1 += b
        c2 += c1
        if c2 > 0x3FFFFFF:
            c1 %= 255
            c2 %= 255
    return c1 % 255, c2 % 255


def _ck(data):
    # checksum() as the two bytes CK1 CK2 (build's: no int to split again)
    c1, c2 = _sums(data)
    k1 = 255 - (c1 + c2) % 255
    return bytes((k1, 255 - (c1 + k1) % 255))


def checksum(data):
    """CK1 << 8 | CK2 for data (header and payload)."""
    c1, c2 = _sums(data)
    k1 = 255 - (c1 + c2) % 255
    return k1 << 8 | (255 - (c1 + k1) % 255)


def valid(data):
    """Whole-frame check: the sums over header, payload and CK end at (0, 0)."""
    return _sums(data) == (0, 0)


def build(mt, payload=b""):
    """A whole frame: MT1 MT2 LEN_HI LEN_LO payload CK1 CK2."""
    n = len(payload)
    if n > LEN_MASK:
        raise CodecError("payload too long")
    f = bytes((mt >> 8, mt & 0xFF, n >> 8, n & 0xFF)) + payload
    return f + _ck(f)


class FrameReader:
    """Streaming receiver. feed() takes bytes in any chunking and calls handler(event,
    value) for every ACK, NAK, frame, bad checksum, oversize length and junk run.

    A candidate frame that fails (bad checksum, oversize length, expired) is given up
    one byte at a time: the bytes after its first byte are scanned again, so a valid
    frame hidden behind junk that looked like a header is still found. The buffer is
    preallocated; feed() allocates nothing per byte, only one copy per reported event.
    """

    def __init__(self, handler, max_payload=256, first_bytes=b"\x08\x09"):
        self.handler = handler
        self.max_payload = max_payload
        self.first_bytes = first_bytes  # first bytes that may start a frame (section 2.3)
        self._cap = 2 * (max_payload + _OVERHEAD)
        self._buf = bytearray(self._cap)
        self._t0 = 0  # ticks of the first byte of the current candidate
        self.junk_bytes = 0
        self.reset()

    def reset(self):
        """Drop everything held, without reporting it."""
        # _s: start of the candidate frame in _buf; _n: bytes held in _buf; _seen: bytes
        # before this index were already reported in a failed frame
        self._s = self._n = self._seen = 0
        self._need = 1  # candidate length at which the next decision is due
        self._junk = -1  # start of an unreported junk run, or -1

    def partial_age(self, now):
        """ms since the first byte of the incomplete frame arrived, or -1 if none (for
        T_ML, section 2.2). now is in the same ticks_ms units given to feed()."""
        if self._n == self._s:
            return -1
        return (now - self._t0) & 0x3FFFFFFF  # ticks_ms wraps at 2**30

    def feed(self, data, now=0, count=-1):
        # count: use only data[:count] (a receive buffer filled part-way, not sliced)
        end = len(data) if count < 0 else count
        buf = self._buf
        cap = self._cap
        n = self._n
        i = 0
        while i < end:
            if n == cap:
                self._n = n
                self._compact()
                n = self._n
            if n == self._s:
                self._t0 = now
            buf[n] = data[i]
            n += 1
            i += 1
            if n - self._s >= self._need:
                self._n = n
                self._settle()
                n = self._n
        self._n = n

    def expire(self):
        """Give up the incomplete candidate (T_ML passed): report EV_TIMEOUT with its
        bytes, then scan what followed its first byte again."""
        s = self._s
        if self._n == s:
            return
        self._flush_junk(s)
        self._seen = self._n
        self.handler(EV_TIMEOUT, self._buf[s : self._n])
        self._s = s + 1
        self._settle()
        if self._n <= self._seen:  # what is left was part of the timed-out bytes: drop it
            self.reset()

    def flush(self):
        """End of input (captures): report a held partial frame and any junk."""
        while self._n > self._s:
            self.expire()
        self._flush_junk(self._s)
        self.reset()

    def _flush_junk(self, upto):
        j = self._junk
        if j >= 0:
            self._junk = -1
            if upto > j:
                self.handler(EV_JUNK, self._buf[j:upto])

    def _compact(self):
        s = self._s
        self._flush_junk(s)
        j = self._n - s
        self._buf[:j] = self._buf[s : self._n]  # one copy per compaction, not per byte
        self._seen = self._seen - s if self._seen > s else 0
        self._s = 0
        self._n = j

    def _settle(self):
        # Decide as much as the held bytes allow; leave _need at the next decision point.
        buf = self._buf
        s = self._s
        n = self._n
        h = self.handler
        while True:
            avail = n - s
            if avail == 0:
                if self._junk < 0:  # nothing held: start again at the front
                    s = n = self._n = self._seen = 0
                need = 1
                break
            b0 = buf[s]
            if b0 == 0x06 or b0 == 0x15:
                if avail < 2:
                    need = 2
                    break
                b1 = buf[s + 1]
                # 06 00 is the only ACK; 15 takes a NAK code 0..7. Anything else is junk,
                # so a stray 06 or 15 does not swallow the start of the next frame.
                if (b0 == 0x06 and b1 == 0) or (b0 == 0x15 and b1 <= 7):
                    self._flush_junk(s)
                    h(EV_ACK if b0 == 0x06 else EV_NAK, b1)
                    s += 2
                    continue
            elif b0 in self.first_bytes:
                if avail < _HEADER:
                    need = _HEADER
                    break
                ln = (buf[s + 2] << 8 | buf[s + 3]) & LEN_MASK
                self._flush_junk(s)
                if ln > self.max_payload:
                    h(EV_OVERSIZE, ln)
                    s += 1
                    continue
                need = ln + _OVERHEAD
                if avail < need:
                    break
                f = buf[s : s + need]  # the one copy either event reports
                if _sums(f) == (0, 0):
                    h(EV_FRAME, f)
                    s += need
                    continue
                if s + need > self._seen:
                    self._seen = s + need
                h(EV_BAD_CHECKSUM, f)
                s += 1
                continue
            # junk: count it and open a junk run, unless a failed frame already showed it
            if s >= self._seen:
                self.junk_bytes += 1
                if self._junk < 0:
                    self._junk = s
            s += 1
        self._s = s
        self._need = need
