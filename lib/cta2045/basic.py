# Basic DR value encodings (lib/cta2045/PROTOCOL.md section 3.2): event duration,
# relative price, power level, simple time sync. Each has an encoder from human units
# to the opcode2 byte and a decoder back.

from math import sqrt

from cta2045 import CodecError

EPOCH_2000 = 946684800  # CTA-2045 UTC counts seconds from 2000-01-01T00:00:00Z (section 4.4)

# The words of the fields a command takes by name (ucm.commands) and that names.describe
# shows: guidance (section 3.1), ALU units (4.6), temperature units (4.5), power
# direction (bit 7 of a power level, 3.2). A value is the index of its word.
WORDS = {
    "guidance": "bad neutral good",
    "units": "Wh 10Wh 100Wh kWh",
    "temp_units": "F C",
    "direction": "absorb produce",
}


def duration_code(seconds):
    """Byte n with 2*n^2 <= seconds, rounded down as PCTA and RADI do (600 s -> 0x11,
    578 s). None -> 0x00 (unknown); under 2 s -> 0x01; over 0xFE -> 0xFF (too long)."""
    if seconds is None:
        return 0  # unknown
    if not seconds >= 0:  # negative or NaN
        raise CodecError("duration < 0")
    if seconds >= 2 * 255 * 255:
        return 0xFF  # too long
    x = int(seconds) // 2
    n = int(sqrt(x))  # single-precision float on some ports: correct it in integers
    while n * n > x:
        n -= 1
    while (n + 1) * (n + 1) <= x:
        n += 1
    return n if n else 1


def duration_seconds(code):
    """Seconds for a duration byte; None for 0x00 (unknown) and 0xFF (too long)."""
    if code == 0 or code == 0xFF:
        return None
    return 2 * code * code


def price_code(ratio):
    """Relative price byte n with ratio = (n-1)(n+63)/8192, nearest; None -> 0x00
    (unknown); beyond 0xFE -> 0xFF (too large)."""
    if ratio is None:
        return 0
    if not 0 <= ratio < 1e6:  # negative, NaN or infinite
        raise CodecError("bad price ratio")
    n = int((sqrt(4096 + 32768 * ratio) - 62) / 2 + 0.5)
    return 1 if n < 1 else (n if n < 255 else 255)


def price_ratio(code):
    if code == 0 or code == 255:
        return None
    return (code - 1) * (code + 63) / 8192


def power_code(percent, produce=False):
    """Power level byte: bits 6..0 = 0..127 for 0..100 % (truncated, 50 % -> 63),
    bit 7 set when producing."""
    if not 0 <= percent <= 100:
        raise CodecError("percent out of 0..100")
    return int(percent * 127 // 100) | (0x80 if produce else 0)


def power_percent(code):
    """(percent of rating, produce) for a power level byte."""
    return (code & 0x7F) * 100 / 127, code >= 0x80


def timesync_code(weekday, hour):
    """Simple time sync byte: weekday (0 = Sunday) in bits 7..5, hour in bits 4..0."""
    if not (0 <= weekday <= 6 and 0 <= hour <= 23):
        raise CodecError("weekday 0..6, hour 0..23")
    return weekday << 5 | hour
