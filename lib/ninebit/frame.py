# Frames of the 9-bit bus: the 8-bit additive checksum, the length rules, an encoder and
# a description. Facts: the last byte is the sum of all others, mod 256; frames that
# start 0x40 are 4 + 2 * byte[2] long (3-byte header, byte[2] 16-bit words, checksum).
# HYPOTHESES (labelled where used): 0x80..0x9F frames are 3 bytes, a poll of (or null
# answer from) node byte0 & 0x1F; byte[1] of a 0x40 frame is a parameter block number;
# words are big-endian, temperatures value/512 in degrees C.

from ninebit import FLAG

MAX_FRAME = 4 + 2 * 255  # the longest frame the length rule allows
BLOCK = 0x40


def sum8(data, n=-1, start=0):
    """The checksum: sum of n bytes from start (all when n < 0), mod 256."""
    if n < 0:
        n = len(data) - start
    s = 0
    for i in range(start, start + n):
        s += data[i]
    return s & 0xFF


def length(b0, b2=-1):
    """The frame length its first byte (and, for 0x40 frames, its third) gives: 3 for
    0x80..0x9F (hypothesis), 4 + 2 * b2 for 0x40 (-1 while b2 is not known yet), 0
    when the first byte is of no known kind."""
    if 0x80 <= b0 <= 0x9F:
        return 3
    if b0 == BLOCK:
        return -1 if b2 < 0 else 4 + 2 * b2
    return 0


def valid(frame):
    return len(frame) >= 2 and sum8(frame, len(frame) - 1) == frame[-1]


def encode(body):
    """body + its checksum byte."""
    return bytes(body) + bytes((sum8(body),))


def block(b, words):
    """A 0x40 frame: block number b and 16-bit words (big-endian), with its checksum.
    Byte 1 is the block number (hypothesis); byte 2 the word count."""
    out = bytearray((BLOCK, b, len(words)))
    for w in words:
        out.append((w >> 8) & 0xFF)
        out.append(w & 0xFF)
    return encode(out)


def symbols(frame):
    """The frame as symbols: the 9th bit set on the first byte only."""
    return [frame[0] | FLAG] + list(frame[1:])


def words(frame):
    """The 16-bit words of a 0x40 frame, big-endian; [] for other frames."""
    if frame[0] != BLOCK or len(frame) < 4:
        return []
    n = min(frame[2], (len(frame) - 4) // 2)
    return [(frame[3 + 2 * i] << 8) | frame[4 + 2 * i] for i in range(n)]


def parity_for(byte, bit9):
    """The UART parity that puts bit9 in the parity bit's place: 0 = even, 1 = odd.
    Even parity sends popcount(byte) & 1 (ESP32 transmit trick, README)."""
    ones = 0
    while byte:
        ones += byte & 1
        byte >>= 1
    return 0 if (ones & 1) == bit9 else 1


def describe(frame):
    """A JSON-able description. Kinds: "poll" (0x80..0x9F, hypothesis: node poll or
    null answer), "block" (0x40: block number and words, hypothesis), "unknown"."""
    b0 = frame[0]
    d = {"hex": "".join("%02x" % b for b in frame), "len": len(frame), "checksum_ok": valid(frame)}
    if 0x80 <= b0 <= 0x9F:
        d["kind"] = "poll"
        d["node"] = b0 & 0x1F
    elif b0 == BLOCK and len(frame) >= 4:
        d["kind"] = "block"
        d["block"] = frame[1]
        d["words"] = words(frame)
    else:
        d["kind"] = "unknown"
    return d
