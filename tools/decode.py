#!/usr/bin/env python3
# decode.py: the CTA-2045 decode/encode command line tool (PC side, CPython).
# Decodes hex strings, hex lines on stdin or raw binary captures into one JSON object per
# frame, link ACK/NAK, junk run or partial frame, and builds any supported message kind
# as a hex frame with its checksum (`decode.py encode KIND ...`). Uses the codec in lib/.

import argparse
import datetime
import json
import math
import os
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if not sys.path or sys.path[0] != _LIB:
    sys.path.insert(0, _LIB)

import cta2045  # noqa: E402

if not os.path.realpath(cta2045.__file__).startswith(os.path.realpath(_LIB) + os.sep):  # another cta2045 won
    raise ImportError("decode.py needs the codec in %s, got %s" % (_LIB, cta2045.__file__))

from cta2045 import CodecError, basic, names  # noqa: E402
from cta2045.frame import (  # noqa: E402
    ACK,
    EV_ACK,
    EV_BAD_CHECKSUM,
    EV_FRAME,
    EV_JUNK,
    EV_NAK,
    EV_OVERSIZE,
    EV_TIMEOUT,
    LEN_MASK,
    MT_BASIC,
    MT_COMMISSIONING,
    MT_DATALINK,
    MT_INTERMEDIATE,
    FrameReader,
    checksum,
    max_payload,
    nak,
    valid,
)
from cta2045.message import BASIC, decode, encode  # noqa: E402

# Names the encode options accept (PROTOCOL.md sections 2.6, 3.1-3.3, 4.3, 4.6). Decoded output
# takes its names from the codec (Message.to_dict).
GUIDANCE = names.TABLES["guidance"].split()
COMM_STATUS = names.TABLES["status"].split()
OP_STATES = names.TABLES["state"].split()
APP_NAK = names.TABLES["reason"].split()
WEEKDAYS = names.WEEKDAYS.split()
COMMODITIES = names.COMMODITIES.split()
UNITS = names.TABLES["units"].split()  # ALU units 0..3
EPOCH_2000 = basic.EPOCH_2000
MAX_PAYLOAD = [b for b in map(max_payload, range(256)) if b]  # bytes by code (codes are 0..N)
MT_NAMES = {
    "basic": MT_BASIC,
    "intermediate": MT_INTERMEDIATE,
    "datalink": MT_DATALINK,
    "data_link": MT_DATALINK,
    "commissioning": MT_COMMISSIONING,
}


def basic_opcodes():
    """{op1: name} of every Basic DR opcode the codec knows (its table, message.BASIC)."""
    return {i + 1: e.split(":")[0] for i, e in enumerate(BASIC) if e != "-"}


# Basic DR opcode1 by name, for --opcode NAME
_OPCODES = {n: op for op, n in basic_opcodes().items()}

PROG = "decode.py"
CHUNK = 65536


from cli import UsageError, guarded  # noqa: E402  (bad input: one line, status 2)


class _Parser(argparse.ArgumentParser):
    # one-line errors (no usage dump), raised so main() can return the status
    def error(self, message):
        where = self.prog[len(PROG) + 1 :] if self.prog.startswith(PROG + " ") else ""
        raise UsageError("%s%s (see --help)" % (where + ": " if where else "", message))


# ---------------------------------------------------------------------------- decoding


def parse_hex(text):
    """bytes from a hex string: whitespace, ':', '-', ',' and '_' separators and 0x
    prefixes (on the whole string or on each byte) are allowed."""
    for sep in ":-,_":
        text = text.replace(sep, " ")
    digits = "".join(t[2:] if t[:2] in ("0x", "0X") else t for t in text.split())
    shown = ascii(text.strip())  # error messages stay ASCII whatever the terminal
    if not digits:
        raise UsageError("no hex digits in %s" % shown)
    for i, c in enumerate(digits):
        if c not in "0123456789abcdefABCDEF":
            raise UsageError("not hex: %s (bad character %s at digit %d)" % (shown, ascii(c), i + 1))
    if len(digits) % 2:
        raise UsageError("odd number of hex digits (%d) in %s" % (len(digits), shown))
    return bytes.fromhex(digits)


class Decoder:
    """Turns FrameReader events into JSON lines on out and counts the problems seen."""

    PROBLEMS = ("bad_checksum", "junk", "oversize", "incomplete", "error")

    def __init__(self, out, max_payload=256):
        self.out = out
        self.max_payload = max_payload
        self.counts = {}
        self._junk = b""  # the reader splits long junk runs: they are joined here

    def decode_stream(self, chunks):
        """Feed an iterable of byte chunks through one fresh FrameReader, then flush."""
        reader = FrameReader(self._event, self.max_payload)
        for chunk in chunks:
            reader.feed(chunk)
        reader.flush()
        self._flush_junk()

    def problems(self):
        return {k: self.counts[k] for k in self.PROBLEMS if self.counts.get(k)}

    def _flush_junk(self):
        if self._junk:
            j, self._junk = self._junk, b""
            self._emit({"event": "junk", "hex": j.hex(), "length": len(j)})

    def _emit(self, obj):
        self.counts[obj["event"]] = self.counts.get(obj["event"], 0) + 1
        self.out.write(json.dumps(obj) + "\n")

    def _event(self, ev, value):
        if ev == EV_JUNK:
            self._junk += bytes(value)
            return
        self._flush_junk()
        if ev == EV_FRAME:
            self._frame(bytes(value), "frame")
        elif ev == EV_BAD_CHECKSUM:
            self._frame(bytes(value), "bad_checksum")
        elif ev == EV_ACK:
            self._link("ack", ACK)
        elif ev == EV_NAK:
            self._link("nak", nak(value))
        elif ev == EV_OVERSIZE:
            self._emit({"event": "oversize", "declared_length": value, "max_payload": self.max_payload})
        elif ev == EV_TIMEOUT:
            part = bytes(value)
            d = {"event": "incomplete", "hex": part.hex(), "length": len(part)}
            if part[0] in (0x06, 0x15):
                d["expected_length"] = 2
            elif len(part) >= 4:
                d["expected_length"] = 6 + ((part[2] << 8 | part[3]) & LEN_MASK)
            self._emit(d)
        else:  # an event this tool does not know: report it rather than drop it
            self._emit({"event": "error", "error": "unknown reader event %r" % ev})

    def _link(self, event, data):
        d = {"event": event}
        d.update(decode(data).to_dict())
        d["hex"] = data.hex()
        self._emit(d)

    def _frame(self, f, event):
        try:
            msg = decode(f, check=True)
            d = {"event": event}
            d.update(msg.to_dict())
        except CodecError as e:
            self._error(f, str(e))
            return
        except Exception as e:  # a codec bug must not end a capture decode
            self._error(f, "%s: %s" % (type(e).__name__, e))
            return
        d["hex"] = f.hex()
        d["checksum_ok"] = msg.checksum_ok
        if not msg.checksum_ok:
            d["expected_checksum"] = "%04x" % checksum(f[:-2])
        self._emit(d)

    def _error(self, f, text):
        self._emit({"event": "error", "hex": f.hex(), "error": text, "checksum_ok": valid(f)})


def _decode_parser():
    p = _Parser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Decode CTA-2045 frames and link ACK/NAKs to JSON, one object per line.\n"
            'Every line has an "event" key: frame, ack, nak, bad_checksum, junk,\n'
            "oversize, incomplete or error. Frames carry the decoded message (type, name,\n"
            'fields with human-readable values), "hex" and "checksum_ok".\n\n'
            "Build frames with:  %s encode KIND [options]   (%s encode --help lists kinds)" % (PROG, PROG)
        ),
        epilog=(
            "examples:\n"
            "  %(p)s 080100020111e94e\n"
            "  %(p)s '08 01 00 02 01 11 E9 4E' 0600 15:07\n"
            "  %(p)s --file capture.bin --strict\n"
            "  cat frames.txt | %(p)s -\n"
            "  %(p)s encode shed --duration-s 600 | %(p)s -\n\n"
            "exit status: 0 decoded (bad checksums and junk are reported, not fatal),\n"
            "1 with --strict when any bad_checksum/junk/oversize/incomplete/error was seen,\n"
            "2 bad command line or input (not hex, unreadable file)." % {"p": PROG}
        ),
    )
    p.add_argument(
        "hex",
        nargs="*",
        metavar="HEX",
        help="hex of one or more concatenated frames and ACK/NAKs (quote it if it has spaces; "
        "':' '-' separators and 0x prefixes are fine). Each is decoded on its own. "
        "'-' reads hex lines from standard input (blank lines and # comments skipped).",
    )
    p.add_argument(
        "--file",
        "-f",
        action="append",
        metavar="PATH",
        help="decode a raw binary capture ('-' = binary standard input); may be repeated",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any bad checksum, junk, oversize, incomplete frame or decode error was seen",
    )
    p.add_argument(
        "--max-payload",
        type=_int_type(2, LEN_MASK, "--max-payload"),
        default=256,
        metavar="N",
        help="largest payload accepted as a frame; longer declared lengths are reported as oversize (default 256)",
    )
    return p


def _decode_main(argv, stdout, stderr, stdin):
    args = _decode_parser().parse_args(argv)
    files = args.file or []
    if not args.hex and not files:
        raise UsageError("nothing to decode: give HEX arguments, '-' or --file PATH (see --help)")
    if args.hex and files:
        raise UsageError("give HEX arguments or --file, not both")
    if files.count("-") > 1 or args.hex.count("-") > 1:
        raise UsageError("standard input can be read only once")
    # check everything before printing anything
    inputs = [a if a == "-" else parse_hex(a) for a in args.hex]
    handles = []
    try:
        for path in files:
            if path == "-":
                handles.append(getattr(stdin, "buffer", stdin))
            else:
                try:
                    handles.append(open(path, "rb"))
                except OSError as e:
                    raise UsageError("cannot read %s: %s" % (path, e.strerror or e)) from None
        dec = Decoder(stdout, args.max_payload)
        status = 0
        for h in handles:
            dec.decode_stream(iter(lambda h=h: h.read(CHUNK), b""))
        for item in inputs:
            if item != "-":
                dec.decode_stream((item,))
                continue
            for lineno, line in enumerate(getattr(stdin, "buffer", stdin), 1):
                if isinstance(line, bytes):  # undecodable bytes fail as "not hex" below
                    line = line.decode("ascii", "backslashreplace")
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    data = parse_hex(line)
                except UsageError as e:
                    stderr.write("%s: error: stdin line %d: %s\n" % (PROG, lineno, e))
                    status = 2
                    continue
                dec.decode_stream((data,))
    finally:
        for h in handles:
            if h is not getattr(stdin, "buffer", stdin):
                h.close()
    if status:
        return status
    if args.strict:
        bad = dec.problems()
        if bad:
            stderr.write("%s: --strict: %s\n" % (PROG, ", ".join("%d %s" % (bad[k], k) for k in bad)))
            return 1
    return 0


# ---------------------------------------------------------------------------- encoding


def _int_type(lo, hi, what="value"):
    def conv(text):
        try:
            v = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not an integer" % text) from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError("%s out of range %d..%d" % (text, lo, hi))
        return v

    conv.__name__ = what
    return conv


def _norm(s):
    return s.strip().lower().replace("-", "_")


def _enum_type(table, hi=255, what="value"):
    """A name from table (a list, index = value, or a {name: value} dict) or an
    integer 0..hi."""
    if not isinstance(table, dict):
        table = {n: i for i, n in enumerate(table)}
    lookup = {_norm(n): v for n, v in table.items()}
    as_int = _int_type(0, hi, what)

    def conv(text):
        if _norm(text) in lookup:
            return lookup[_norm(text)]
        try:
            int(text, 0)
        except ValueError:
            names = "|".join(table)
            raise argparse.ArgumentTypeError("%r: use one of %s or a number 0..%d" % (text, names, hi)) from None
        return as_int(text)

    conv.__name__ = what
    return conv


def _number(text, what):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError("%r is not a finite number" % text)
    return v


def _seconds(text):
    """Seconds, optionally with an s, m or h suffix: 600, 10m, 1.5h."""
    t = text.strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(t[-1:], None)
    v = _number(t[:-1] if scale else t, "duration") * (scale or 1)
    if v < 0:
        raise argparse.ArgumentTypeError("%s: duration must be >= 0" % text)
    return v


_seconds.__name__ = "duration"


def _nonneg(text):
    v = _number(text, "value")
    if v < 0:
        raise argparse.ArgumentTypeError("%s must be >= 0" % text)
    return v


_nonneg.__name__ = "number"


def _percent(text):
    v = _number(text, "percent")
    if not 0 <= v <= 100:
        raise argparse.ArgumentTypeError("%s out of range 0..100" % text)
    return v


_percent.__name__ = "percent"


def _hours(text):
    return _number(text, "hours")


_hours.__name__ = "hours"


def _timestamp(text):
    """Unix seconds from "now", a number of Unix seconds, or an ISO-8601 date/time
    (UTC unless it carries an offset)."""
    t = text.strip()
    if t.lower() == "now":
        return int(time.time())
    try:
        v = float(t)
    except ValueError:
        v = None
    if v is not None:
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError("%r is not a finite number" % text)
        return math.floor(v)
    try:
        dt = datetime.datetime.fromisoformat(t.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "%r: use now, Unix seconds or ISO-8601 like 2026-03-01T12:00:00Z" % text
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return math.floor(dt.timestamp())


_timestamp.__name__ = "time"


def _utc2000(unix, what):
    v = unix - EPOCH_2000
    if not 0 <= v <= 0xFFFFFFFF:
        raise UsageError("%s must be between 2000-01-01T00:00:00Z and 2136-02-07T06:28:15Z" % what)
    return v


def _iso(utc2000):
    t = datetime.datetime.fromtimestamp(utc2000 + EPOCH_2000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _quarters(hours, what, lo, hi):
    q = hours * 4
    if q != int(q):
        raise UsageError("%s must be a multiple of 0.25 h (got %s)" % (what, hours))
    q = int(q)
    if not lo <= q <= hi:
        raise UsageError("%s out of range %s..%s h" % (what, lo / 4, hi / 4))
    return q


def _duration_note(code, asked):
    s = basic.duration_seconds(code)
    if code == 0x00:
        return "duration byte 0x00 = unknown duration"
    if code == 0xFF:
        return "duration byte 0xff = longer than representable (max 0xfe = %d s)" % (2 * 254 * 254)
    text = "duration byte 0x%02x = %d s" % (code, s)
    if asked is not None and asked > s:
        text += " (asked %g s; rounded down to 2*n*n s)" % asked
    elif asked is not None and asked < s:
        text += " (asked %g s; 2 s is the shortest duration)" % asked
    return text


# Every encode kind, in help order: name -> (help, add_args(parser), build(args) ->
# (frame, notes), aliases).
KINDS = {}


def _kind(name, help_text, add_args, build, aliases=()):
    KINDS[name] = (help_text, add_args, build, tuple(aliases))


def _no_args(p):
    pass


def _fixed(name, help_text):
    # kinds whose opcode2 is always 0, or that carry no data
    _kind(name, help_text, _no_args, lambda a: (encode(name), []))


def _weekday(text):
    """0..6 (0 = Sunday) or a day name, full or first three letters."""
    t = _norm(text)
    for i, d in enumerate(WEEKDAYS):
        if t == d or t == d[:3]:
            return i
    return _int_type(0, 6, "--weekday")(text)


_weekday.__name__ = "--weekday"


def _alu_value(text):
    if text.strip().lower() == "max":
        return 0xFFFF
    return _int_type(0, 0xFFFF, "--value")(text)


_alu_value.__name__ = "--value"


def _mt_type(text):
    t = _norm(text)
    if t in MT_NAMES:
        return MT_NAMES[t]
    try:
        b = parse_hex(text)
    except UsageError:
        b = b""
    if len(b) != 2:
        raise argparse.ArgumentTypeError(
            "%r: use basic | intermediate | datalink | commissioning or 4 hex digits (0802)" % text
        )
    return b[0] << 8 | b[1]


_mt_type.__name__ = "--type"


# --- Basic DR: durations


def _duration_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--duration-s",
        type=_seconds,
        metavar="SECONDS",
        help="duration in seconds (suffix m or h allowed: 10m, 2h); sent as the byte n with "
        "2*n*n <= SECONDS, rounded down. Omitted: 0x00 = unknown",
    )
    g.add_argument(
        "--duration-code", type=_int_type(0, 255, "--duration-code"), metavar="BYTE", help="raw duration byte 0..255"
    )


def _duration_kind(name, help_text):
    field = "op2" if name == "end_shed" else "duration"

    def build(a):
        code = a.duration_code if a.duration_code is not None else basic.duration_code(a.duration_s)
        if name == "end_shed" and a.duration_code is None and a.duration_s is None:
            note = "op2 0x00 (what the implementations send)"
        else:
            note = _duration_note(code, a.duration_s)
        return encode(name, **{field: code}), [note]

    _kind(name, help_text, _duration_args, build)


_duration_kind("shed", "Basic DR 0x01 Shed (--duration-s)")
_duration_kind("end_shed", "Basic DR 0x02 End Shed / Run Normal (op2 normally 0; --duration-s sets it)")
_duration_kind("load_up", "Basic DR 0x17 Load Up (--duration-s)")
_duration_kind("critical_peak", "Basic DR 0x0A Critical Peak Event (--duration-s)")
_duration_kind("grid_emergency", "Basic DR 0x0B Grid Emergency (--duration-s)")
_duration_kind("time_remaining", "Basic DR 0x09 time left in the present price period (--duration-s)")
_duration_kind("pending_event_time", "Basic DR 0x18 Pending Event Time (--duration-s)")


# --- Basic DR: power level and prices


def _power_args(p):
    p.add_argument("--percent", type=_percent, required=True, help="0..100 %% of rating (sent as 0..127)")
    p.add_argument("--produce", action="store_true", help="produce instead of absorb (sets bit 7)")


def _power_build(a):
    code = basic.power_code(a.percent, a.produce)
    pct, prod = basic.power_percent(code)
    note = "power byte 0x%02x = %.1f %% %s" % (code, pct, "produce" if prod else "absorb")
    return encode("power_level", power=code), [note]


_kind("power_level", "Basic DR 0x06 request for power level (--percent, --produce)", _power_args, _power_build)


def _price_args(p):
    p.add_argument(
        "--ratio", type=_nonneg, help="price relative to normal (1.0 = normal, 2.0 = double); omitted: 0x00 = unknown"
    )


def _price_kind(name, help_text):
    def build(a):
        code = basic.price_code(a.ratio)
        r = basic.price_ratio(code)
        if code == 0:
            note = "price byte 0x00 = unknown"
        elif r is None:
            note = "price byte 0xff = too large (max 0xfe = ratio %.3f)" % basic.price_ratio(0xFE)
        else:
            note = "price byte 0x%02x = ratio %.3f" % (code, r)
        return encode(name, price=code), [note]

    _kind(name, help_text, _price_args, build)


_price_kind("present_price", "Basic DR 0x07 present relative price (--ratio)")
_price_kind("next_price", "Basic DR 0x08 next period relative price (--ratio)")


# --- Basic DR: enumerated opcode2 values


def _enum_kind(name, help_text, field, option, table, opt_help):
    dest = option.lstrip("-").replace("-", "_")

    def add(p):
        p.add_argument(option, type=_enum_type(table, 255, option), required=True, metavar="NAME|N", help=opt_help)

    def build(a):
        v = getattr(a, dest)
        known = table.values() if isinstance(table, dict) else range(len(table))
        notes = [] if v in known else ["%s %d is not a defined value" % (option, v)]
        return encode(name, **{field: v}), notes

    _kind(name, help_text, add, build)


_enum_kind(
    "grid_guidance", "Basic DR 0x0C Grid Guidance (--guidance)", "guidance", "--guidance",
    GUIDANCE, "bad | neutral | good (or 0..2)",
)  # fmt: skip
_enum_kind(
    "comm_status", "Basic DR 0x0E outside communication status (--status)", "status", "--status",
    COMM_STATUS, "lost | found | poor (or 0..2)",
)  # fmt: skip
_enum_kind(
    "op_state", "Basic DR 0x13 operational state response (--state)", "state", "--state",
    OP_STATES, "%s (or 0..14)" % " | ".join(OP_STATES),
)  # fmt: skip
_enum_kind(
    "app_ack", "Basic DR 0x03 Application ACK (--opcode)", "opcode", "--opcode",
    _OPCODES, "opcode1 being acknowledged: a Basic DR kind name (shed, comm_status, ...) or a number",
)  # fmt: skip
_enum_kind(
    "app_nak", "Basic DR 0x04 Application NAK (--reason)", "reason", "--reason",
    APP_NAK, "%s (or 0..5)" % " | ".join(APP_NAK),
)  # fmt: skip
_enum_kind(
    "pending_event_type", "Basic DR 0x19 Pending Event Type (--opcode)", "opcode", "--opcode",
    _OPCODES, "opcode1 of the pending event: shed, end_shed, critical_peak, grid_emergency, load_up or a number",
)  # fmt: skip


def _override_args(p):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--on", dest="override", action="store_const", const=1, help="override in effect (op2 1)")
    g.add_argument("--off", dest="override", action="store_const", const=0, help="override not in effect (op2 0)")


_kind(
    "customer_override", "Basic DR 0x11 Customer Override (--on | --off)", _override_args,
    lambda a: (encode("customer_override", override=a.override), []),
)  # fmt: skip


def _time_sync_args(p):
    p.add_argument(
        "--weekday", type=_weekday, metavar="DAY", help="0..6 with 0 = Sunday, or a day name (sunday, mon, ...)"
    )
    p.add_argument("--hour", type=_int_type(0, 23, "--hour"), metavar="H", help="0..23")
    p.add_argument("--now", action="store_true", help="use the local weekday and hour of this computer")


def _time_sync_build(a):
    if a.now:
        if a.weekday is not None or a.hour is not None:
            raise UsageError("give --now or --weekday/--hour, not both")
        t = datetime.datetime.now()
        wd, hour = t.isoweekday() % 7, t.hour
    else:
        if a.weekday is None or a.hour is None:
            raise UsageError("give --weekday and --hour (or --now)")
        wd, hour = a.weekday, a.hour
    code = basic.timesync_code(wd, hour)
    note = "time sync byte 0x%02x = %s %02d:00" % (code, WEEKDAYS[wd], hour)
    return encode("time_sync", timesync=code), [note]


_kind("time_sync", "Basic DR 0x16 Simple Time Sync (--weekday --hour, or --now)", _time_sync_args, _time_sync_build)
_fixed("op_state_query", "Basic DR 0x12 Operational State Query")
_fixed("sleep", "Basic DR 0x14 Sleep")
_fixed("wake", "Basic DR 0x15 Wake / Refresh request")
_fixed("reboot", "Basic DR 0x1A Reboot")


# --- Intermediate DR


def _alu_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--get", action="store_true", help="the Get form (0C 00, LEN 2)")
    g.add_argument("--probe", action="store_true", help="support probe: duration 0, value 0, units 0xFF")
    p.add_argument(
        "--duration-min", type=_int_type(0, 0xFFFF, "--duration-min"), metavar="MIN",
        help="event duration in minutes 0..65535 (a plain count, not the 2n^2 byte)",
    )  # fmt: skip
    p.add_argument(
        "--value", type=_alu_value, metavar="N",
        help="minimum extra energy in --units, 0..65535 (max = 65535 = as much as safely possible)",
    )  # fmt: skip
    p.add_argument(
        "--units", type=_enum_type(UNITS, 255, "--units"), default=0, metavar="U",
        help="Wh | 10Wh | 100Wh | kWh, or a number 0..255 (255 = special); default Wh",
    )  # fmt: skip
    p.add_argument("--efficiency", type=_int_type(0, 255, "--efficiency"), metavar="N", help="optional efficiency byte")
    p.add_argument(
        "--event-id",
        type=_int_type(0, 0xFFFFFFFF, "--event-id"),
        metavar="N",
        help="optional event ID (needs --efficiency)",
    )
    p.add_argument(
        "--start",
        type=_timestamp,
        metavar="TIME",
        help="optional start: now, Unix seconds or ISO-8601 (needs --event-id)",
    )
    for opt in ("--start-rand", "--end-rand"):
        text = "optional %s randomisation, minutes" % opt[2:-5]
        p.add_argument(opt, type=_int_type(0, 255, opt), metavar="MIN", help=text)


_ALU_OPTIONAL = ("efficiency", "event_id", "start", "start_rand", "end_rand")


def _opt(name):
    return "--" + name.replace("_", "-")


def _alu_build(a):
    given = [o for o in _ALU_OPTIONAL if getattr(a, o) is not None]
    if a.get or a.probe:
        extra = [o for o in ("duration_min", "value") + _ALU_OPTIONAL if getattr(a, o) is not None]
        if extra:
            raise UsageError("%s takes no other options (got %s)" % ("--get" if a.get else "--probe", _opt(extra[0])))
        if a.get:
            return encode("advanced_load_up"), []
        return encode("advanced_load_up", duration_min=0, value=0, units=0xFF), ["support probe: value 0, units 0xff"]
    if a.duration_min is None or a.value is None:
        raise UsageError("give --duration-min and --value (or --get / --probe)")
    fields = {"duration_min": a.duration_min, "value": a.value, "units": a.units}
    if given:
        for o in _ALU_OPTIONAL[: _ALU_OPTIONAL.index(given[-1]) + 1]:
            if getattr(a, o) is None:
                raise UsageError("%s needs %s (the optional fields are positional)" % (_opt(given[-1]), _opt(o)))
            fields[o] = getattr(a, o)
        if "start" in fields:
            fields["start"] = _utc2000(fields["start"], "--start")
    if a.value == 0xFFFF:
        note = "energy: as much as safely possible over %d min" % a.duration_min
    elif a.units < len(UNITS):
        wh = a.value * 10**a.units
        note = "energy %d x %s = %d Wh over %d min" % (a.value, UNITS[a.units], wh, a.duration_min)
    else:
        note = "units 0x%02x is %s" % (a.units, "special" if a.units == 255 else "reserved")
    return encode("advanced_load_up", **fields), [note]


_kind(
    "advanced_load_up", "Intermediate 0x0C Advanced Load Up (--duration-min --value --units; --get; --probe)",
    _alu_args, _alu_build,
)  # fmt: skip
_fixed("get_information", "Intermediate 01 01 GetInformation request")


def _commodity_args(p):
    p.add_argument(
        "--commodity", type=_int_type(0, 255, "--commodity"), metavar="CODE",
        help="read one commodity (0 electricity consumed, 6 total storage, 7 present storage, ...)",
    )  # fmt: skip


def _commodity_build(a):
    if a.commodity is None:
        return encode("commodity_read"), []
    c = a.commodity & 0x7F
    note = "commodity %d = %s" % (a.commodity, COMMODITIES[c] if c < len(COMMODITIES) else "undefined")
    return encode("commodity_read", commodity=a.commodity), [note]


_kind(
    "commodity_read", "Intermediate 06 00 commodity read request (all, or --commodity CODE)",
    _commodity_args, _commodity_build,
)  # fmt: skip


def _utc_args(p):
    p.add_argument("--get", action="store_true", help="the Get UTC Time form (02 00, LEN 2)")
    p.add_argument(
        "--utc", type=_timestamp, metavar="TIME",
        help="now (default), Unix seconds, or ISO-8601 date/time (UTC unless it has an offset)",
    )  # fmt: skip
    p.add_argument(
        "--tz-hours", type=_hours, metavar="H", help="time zone offset in hours, a multiple of 0.25 (default 0)"
    )
    p.add_argument("--dst-hours", type=_hours, metavar="H", help="DST offset in hours, a multiple of 0.25 (default 0)")


def _utc_build(a):
    if a.get:
        if a.utc is not None or a.tz_hours is not None or a.dst_hours is not None:
            raise UsageError("--get takes no other options")
        return encode("utc_time"), []
    utc = _utc2000(int(time.time()) if a.utc is None else a.utc, "--utc")
    tz = _quarters(a.tz_hours or 0.0, "--tz-hours", -128, 127)
    dst = _quarters(a.dst_hours or 0.0, "--dst-hours", 0, 255)
    note = "utc %s = %d s since 2000 (0x%08x), tz %d, dst %d quarter hours" % (_iso(utc), utc, utc, tz, dst)
    return encode("utc_time", utc=utc, tz=tz, dst=dst), [note]


_kind("utc_time", "Intermediate 02 00 Set UTC Time (--utc --tz-hours --dst-hours), or --get", _utc_args, _utc_build)


# --- link layer


def _mtsq_args(p):
    p.add_argument(
        "--type", type=_mt_type, required=True, metavar="TYPE",
        help="basic | intermediate | datalink | commissioning, or MT1 MT2 in hex (0901)",
    )  # fmt: skip


def _mtsq_build(a):
    return encode("type_supported_query", mt=a.type), ["message type %04x" % a.type]


_kind(
    "mtsq", "Message Type Supported Query, LEN 0 (--type)", _mtsq_args, _mtsq_build,
    aliases=("type_supported_query",),
)  # fmt: skip
_fixed("max_payload_query", "Data-link 18 00 query the maximum payload length")


def _max_payload_args(p):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument(
        "--code", type=_int_type(0, 255, "--code"), metavar="N", help="payload code 0..13 (5 = 64 bytes, 7 = 256)"
    )
    g.add_argument(
        "--bytes", type=_int_type(0, LEN_MASK, "--bytes"), metavar="B",
        help="payload size, one of %s" % ", ".join(str(b) for b in MAX_PAYLOAD),
    )  # fmt: skip


def _max_payload_build(a):
    code = a.code
    if code is None:
        if a.bytes not in MAX_PAYLOAD:
            raise UsageError("--bytes must be one of %s" % ", ".join(str(b) for b in MAX_PAYLOAD))
        code = MAX_PAYLOAD.index(a.bytes)
    if code < len(MAX_PAYLOAD):
        note = "code 0x%02x = %d bytes" % (code, MAX_PAYLOAD[code])
    else:
        note = "code 0x%02x is not a defined payload size" % code
    return encode("max_payload", code=code), [note]


_kind(
    "max_payload", "Data-link 19 xx maximum payload response (--code or --bytes)",
    _max_payload_args, _max_payload_build,
)  # fmt: skip


def _encode_parser():
    p = _Parser(
        prog=PROG + " encode",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build one CTA-2045 frame and print it in hex, checksum included.\n"
        "Notes on how values were encoded (e.g. rounded durations) go to standard error.",
        epilog=(
            "examples:\n"
            "  %(p)s encode shed --duration-s 600        -> 080100020111e94e\n"
            "  %(p)s encode advanced_load_up --duration-min 60 --value 5 --units 100Wh\n"
            "  %(p)s encode utc_time --utc 2026-03-01T12:00:00Z --tz-hours -5 --dst-hours 1\n"
            "  %(p)s encode mtsq --type intermediate --spaced\n"
            "  %(p)s encode KIND --help                  (options of one kind)" % {"p": PROG}
        ),
    )
    sub = p.add_subparsers(dest="kind", metavar="KIND", title="kinds")
    sub.required = True
    builders = {}
    for name, (help_text, add_args, builder, aliases) in KINDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text, aliases=list(aliases))
        add_args(sp)
        sp.add_argument("--spaced", action="store_true", help="print spaced uppercase hex (08 01 00 02 ...)")
        sp.add_argument("-q", "--quiet", action="store_true", help="no notes on standard error")
        for n in (name,) + aliases:
            builders[n] = builder
    return p, builders


def _encode_main(argv, stdout, stderr):
    parser, builders = _encode_parser()
    args = parser.parse_args(argv)
    try:
        frame, notes = builders[args.kind](args)
    except CodecError as e:
        raise UsageError("encode %s: %s" % (args.kind, e)) from None
    except UsageError as e:
        raise UsageError("encode %s: %s" % (args.kind, e)) from None
    if args.spaced:
        text = " ".join("%02X" % b for b in frame)
    else:
        text = frame.hex()
    stdout.write(text + "\n")
    if not args.quiet:
        for n in notes:
            stderr.write("note: %s\n" % n)
    return 0


def main(argv=None, stdout=None, stderr=None, stdin=None):
    """Run the tool; returns the exit status. The streams default to sys's."""
    argv = sys.argv[1:] if argv is None else list(argv)
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    stdin = sys.stdin if stdin is None else stdin

    def body():
        if argv and argv[0] == "encode":
            return _encode_main(argv[1:], stdout, stderr)
        return _decode_main(argv, stdout, stderr, stdin)

    return guarded(PROG, stdout, stderr, body)


if __name__ == "__main__":
    import cli

    cli.run(main)
