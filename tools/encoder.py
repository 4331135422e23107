# The encode side of tools/decode.py (`decode.py encode KIND [options]`): one frame of
# any message kind, requests and replies, generated from the codec's tables
# (cta2045.message BASIC, DATALINK and INTERMEDIATE; PROTOCOL.md sections 2.6, 3 and 4).
# Every field of those tables is given by the options its handler in FIELDS adds, once
# for every kind that has it: durations in seconds (10m, 2h) or as the raw byte, prices
# as ratios, power levels in percent, weekday names, times as ISO-8601 or Unix seconds,
# hours for time zones, names for every enumerated value; any other field as an integer
# in the range of its struct format. Notes say how a value was encoded (rounding,
# undefined values). CPython only (a PC tool).
#
# Intermediate DR: a kind's request groups (or, with --reply, its reply groups) are
# optional in order and each is all or nothing, as in the codec. Without options a
# request is its Get form (op1 op2, no data), unless every field of its first group has
# a default (utc_time: now); --get asks for the Get form explicitly.

import argparse
import datetime
import math
import re
import time

from cli import UsageError, parse_hex
from cta2045 import basic, names
from cta2045.basic import EPOCH_2000
from cta2045.frame import LEN_MASK, MT_BASIC, MT_COMMISSIONING, MT_DATALINK, MT_INTERMEDIATE, max_payload
from cta2045.message import BASIC, DATALINK, INTERMEDIATE, decode, encode

WEEKDAYS = names.WEEKDAYS.split()
COMMODITIES = names.COMMODITIES.split()
UNITS = names.TABLES["units"].split()  # ALU units 0..3
MAX_PAYLOAD = [b for b in map(max_payload, range(256)) if b]  # bytes by code (codes are 0..N)
MT_NAMES = {
    "basic": MT_BASIC,
    "intermediate": MT_INTERMEDIATE,
    "datalink": MT_DATALINK,
    "data_link": MT_DATALINK,
    "commissioning": MT_COMMISSIONING,
}
# struct format character -> the range of its values
_RANGES = {"B": (0, 0xFF), "b": (-0x80, 0x7F), "H": (0, 0xFFFF), "h": (-0x8000, 0x7FFF), "I": (0, 0xFFFFFFFF)}
_KINDS_OF_TABLE = ((BASIC, MT_BASIC, 1, "Basic DR"), (DATALINK, MT_DATALINK, 0x16, "Data-link"))


def basic_opcodes():
    """{op1: name} of every Basic DR opcode the codec knows (its table, message.BASIC)."""
    return {i + 1: e.split(":")[0] for i, e in enumerate(BASIC) if e != "-"}


# --- option value types (argparse types: their __name__ is the option in messages) ----------


def int_type(lo, hi, what="value"):
    """An argparse type: an integer lo..hi (0x.. allowed); `what` names it in errors."""

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


def _enum_type(table, lo=0, hi=255, what="value"):
    """A name from table (a list, index = value, or a {name: value} dict) or an
    integer lo..hi."""
    if not isinstance(table, dict):
        table = {n: i for i, n in enumerate(table)}
    lookup = {_norm(n): v for n, v in table.items()}
    as_int = int_type(lo, hi, what)

    def conv(text):
        if _norm(text) in lookup:
            return lookup[_norm(text)]
        try:
            int(text, 0)
        except ValueError:
            names_ = "|".join(table)
            raise argparse.ArgumentTypeError("%r: use one of %s or a number %d..%d" % (text, names_, lo, hi)) from None
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


def _weekday(text):
    """0..6 (0 = Sunday) or a day name, full or first three letters."""
    t = _norm(text)
    for i, d in enumerate(WEEKDAYS):
        if t == d or t == d[:3]:
            return i
    return int_type(0, 6, "--weekday")(text)


_weekday.__name__ = "--weekday"


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


def _utc2000(unix, what):
    v = unix - EPOCH_2000
    if not 0 <= v <= 0xFFFFFFFF:
        raise UsageError("%s must be between 2000-01-01T00:00:00Z and 2136-02-07T06:28:15Z" % what)
    return v


def _iso(utc2000):
    t = datetime.datetime.fromtimestamp(utc2000 + EPOCH_2000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _opt(field):
    return "--" + field.replace("_", "-")


# --- fields: how each is given ----------------------------------------------------------------


class Field:
    """A field given by one option --<field>: an integer in lo..hi, or one of the names
    of `table` (a list, index = value, or a {name: value} dict). default: the value
    when the option is not given (None: it must be)."""

    default = None

    def __init__(self, field, lo=0, hi=255, table=None, default=None, help=None):
        self.field = field
        self.lo, self.hi = lo, hi
        self.table = table
        if default is not None:
            self.default = default
        self.help = help
        self.options = [_opt(field)]

    def add(self, p, required=False):
        if self.table is not None:
            kind = _enum_type(self.table, self.lo, self.hi, self.options[0])
            meta = "NAME|N"
            text = self.help or "%s (or %d..%d)" % (" | ".join(self.table), self.lo, self.hi)
        else:
            kind = int_type(self.lo, self.hi, self.options[0])
            meta = "N"
            text = self.help or "%d..%d" % (self.lo, self.hi)
        if self.default is not None:
            text += "; default %s" % self._shown(self.default)
        p.add_argument(self.options[0], dest=self.field, type=kind, required=required, metavar=meta, help=text)

    def _shown(self, v):
        if isinstance(self.table, list) and 0 <= v < len(self.table):
            return self.table[v]
        return str(v)

    def given(self, a):
        return getattr(a, self.field, None) is not None

    def value(self, a, notes):
        v = getattr(a, self.field, None)
        if v is None:
            return self.default
        if self.table is not None:
            known = self.table.values() if isinstance(self.table, dict) else range(len(self.table))
            if v not in known:
                notes.append("%s %d is not a defined value" % (self.options[0], v))
        return v


class Text(Field):
    """A fixed-width text field (struct "Ns"): at most n ASCII characters."""

    def __init__(self, field, n):
        Field.__init__(self, field)
        self.n = n

    def add(self, p, required=False):
        def conv(text):
            if len(text) > self.n or not text.isascii():
                raise argparse.ArgumentTypeError("%r: at most %d ASCII characters" % (text, self.n))
            return text

        conv.__name__ = self.options[0]
        p.add_argument(self.options[0], dest=self.field, type=conv, required=required, metavar="TEXT",
                       help="text, at most %d characters" % self.n)  # fmt: skip


class Duration(Field):
    """A Basic DR duration byte (2*n*n s): --duration-s SECONDS or --duration-code BYTE;
    default 0x00 (unknown)."""

    default = 0

    def __init__(self, field):
        Field.__init__(self, field)
        self.options = ["--duration-s", "--duration-code"]

    def add(self, p, required=False):
        g = p.add_mutually_exclusive_group()
        g.add_argument(
            "--duration-s", type=_seconds, metavar="SECONDS",
            help="duration in seconds (suffix m or h allowed: 10m, 2h); sent as the byte n with "
            "2*n*n <= SECONDS, rounded down. Omitted: 0x00 = unknown",
        )  # fmt: skip
        g.add_argument(
            "--duration-code", type=int_type(0, 255, "--duration-code"), metavar="BYTE",
            help="raw duration byte 0..255",
        )  # fmt: skip

    def given(self, a):
        return a.duration_s is not None or a.duration_code is not None

    def value(self, a, notes):
        code = a.duration_code if a.duration_code is not None else basic.duration_code(a.duration_s)
        notes.append(_duration_note(code, a.duration_s))
        return code


class Price(Field):
    """A relative price byte: --ratio R (1.0 = normal); default 0x00 (unknown)."""

    default = 0

    def __init__(self, field):
        Field.__init__(self, field)
        self.options = ["--ratio"]

    def add(self, p, required=False):
        p.add_argument(
            "--ratio", type=_nonneg,
            help="price relative to normal (1.0 = normal, 2.0 = double); omitted: 0x00 = unknown",
        )  # fmt: skip

    def given(self, a):
        return a.ratio is not None

    def value(self, a, notes):
        code = basic.price_code(a.ratio)
        r = basic.price_ratio(code)
        if code == 0:
            notes.append("price byte 0x00 = unknown")
        elif r is None:
            notes.append("price byte 0xff = too large (max 0xfe = ratio %.3f)" % basic.price_ratio(0xFE))
        else:
            notes.append("price byte 0x%02x = ratio %.3f" % (code, r))
        return code


class Power(Field):
    """A power level byte: --percent P of rating, --produce for bit 7."""

    def __init__(self, field):
        Field.__init__(self, field)
        self.options = ["--percent"]

    def add(self, p, required=False):
        p.add_argument("--percent", type=_percent, required=True, help="0..100 %% of rating (sent as 0..127)")
        p.add_argument("--produce", action="store_true", help="produce instead of absorb (sets bit 7)")

    def given(self, a):
        return a.percent is not None

    def value(self, a, notes):
        code = basic.power_code(a.percent, a.produce)
        pct, prod = basic.power_percent(code)
        notes.append("power byte 0x%02x = %.1f %% %s" % (code, pct, "produce" if prod else "absorb"))
        return code


class TimeSync(Field):
    """The simple time sync byte: --weekday DAY --hour H, or --now."""

    def __init__(self, field):
        Field.__init__(self, field)
        self.options = ["--weekday", "--hour", "--now"]

    def add(self, p, required=False):
        p.add_argument(
            "--weekday", type=_weekday, metavar="DAY", help="0..6 with 0 = Sunday, or a day name (sunday, mon, ...)"
        )
        p.add_argument("--hour", type=int_type(0, 23, "--hour"), metavar="H", help="0..23")
        p.add_argument("--now", action="store_true", help="use the local weekday and hour of this computer")

    def given(self, a):
        return a.now or a.weekday is not None or a.hour is not None

    def value(self, a, notes):
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
        notes.append("time sync byte 0x%02x = %s %02d:00" % (code, WEEKDAYS[wd], hour))
        return code


class Override(Field):
    """Customer override: --on or --off."""

    def __init__(self, field):
        Field.__init__(self, field)
        self.options = ["--on", "--off"]

    def add(self, p, required=False):
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--on", dest="override", action="store_const", const=1, help="override in effect (op2 1)")
        g.add_argument("--off", dest="override", action="store_const", const=0, help="override not in effect (op2 0)")


class PayloadCode(Field):
    """A max-payload code: --code N or --bytes B (section 2.6)."""

    def __init__(self, field):
        Field.__init__(self, field)
        self.options = ["--code", "--bytes"]

    def add(self, p, required=False):
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument(
            "--code", type=int_type(0, 255, "--code"), metavar="N", help="payload code 0..13 (5 = 64 bytes, 7 = 256)"
        )
        g.add_argument(
            "--bytes", type=int_type(0, LEN_MASK, "--bytes"), metavar="B",
            help="payload size, one of %s" % ", ".join(str(b) for b in MAX_PAYLOAD),
        )  # fmt: skip

    def given(self, a):
        return a.code is not None or a.bytes is not None

    def value(self, a, notes):
        code = a.code
        if code is None:
            if a.bytes not in MAX_PAYLOAD:
                raise UsageError("--bytes must be one of %s" % ", ".join(str(b) for b in MAX_PAYLOAD))
            code = MAX_PAYLOAD.index(a.bytes)
        size = max_payload(code)
        notes.append(
            "code 0x%02x = %d bytes" % (code, size) if size else "code 0x%02x is not a defined payload size" % code
        )
        return code


class Moment(Field):
    """A time as seconds since 2000-01-01 (section 4.4): --<field> TIME (now, Unix
    seconds or ISO-8601). now_default: "now" when not given."""

    def __init__(self, field, now_default=False):
        Field.__init__(self, field)
        self.now_default = now_default
        if now_default:
            self.default = "now"

    def add(self, p, required=False):
        p.add_argument(
            self.options[0], dest=self.field, type=_timestamp, metavar="TIME",
            help="now%s, Unix seconds, or ISO-8601 date/time (UTC unless it has an offset)"
            % (" (default)" if self.now_default else ""),
        )  # fmt: skip

    def value(self, a, notes):
        v = getattr(a, self.field)
        if v is None:
            v = int(time.time())
        return _utc2000(v, self.options[0])


class Quarters(Field):
    """Hours in quarter-hour steps (section 4.4): --<field>-hours H, default 0."""

    default = 0

    def __init__(self, field, lo, hi, help):
        Field.__init__(self, field, lo, hi, help=help)
        self.options = [_opt(field) + "-hours"]
        self.dest = field + "_hours"

    def add(self, p, required=False):
        p.add_argument(self.options[0], dest=self.dest, type=_hours, metavar="H", help=self.help + " (default 0)")

    def given(self, a):
        return getattr(a, self.dest) is not None

    def value(self, a, notes):
        hours = getattr(a, self.dest) or 0.0
        q = hours * 4
        if q != int(q):
            raise UsageError("%s must be a multiple of 0.25 h (got %s)" % (self.options[0], hours))
        if not self.lo <= int(q) <= self.hi:
            raise UsageError("%s out of range %s..%s h" % (self.options[0], self.lo / 4, self.hi / 4))
        return int(q)


class Amount(Field):
    """An ALU energy amount (section 4.6): 0..65535, or max (0xFFFF, as much as safely
    possible)."""

    def add(self, p, required=False):
        as_int = int_type(self.lo, self.hi, self.options[0])

        def conv(text):
            return self.hi if text.strip().lower() == "max" else as_int(text)

        conv.__name__ = self.options[0]
        p.add_argument(self.options[0], dest=self.field, type=conv, metavar="N",
                       help="%d..%d, or max (%d)" % (self.lo, self.hi, self.hi))  # fmt: skip


class Records(Field):
    """Commodity records (section 4.3): --record CODE:RATE:CUMULATIVE[:estimated],
    repeated; measured unless it says estimated."""

    def __init__(self, field):
        Field.__init__(self, field)
        self.options = ["--record"]

    def add(self, p, required=False):
        def conv(text):
            parts = text.split(":")
            try:
                code, rate, cum = (int(x, 0) for x in parts[:3])
            except ValueError:
                code = None
            if code is None or len(parts) not in (3, 4) or parts[3:] not in ([], ["estimated"], ["measured"]):
                raise argparse.ArgumentTypeError("%r: use CODE:RATE:CUMULATIVE[:estimated]" % text)
            if not (0 <= code <= 127 and 0 <= rate < 1 << 48 and 0 <= cum < 1 << 48):
                raise argparse.ArgumentTypeError("%r: code 0..127, rate and cumulative 0..2**48-1" % text)
            return {"code": code, "measured": parts[3:] != ["estimated"], "rate": rate, "cumulative": cum}

        conv.__name__ = "--record"
        p.add_argument(
            "--record", dest="records", type=conv, action="append", metavar="CODE:RATE:CUM",
            help="a commodity record (repeat for more): code (%s), rate (W, ...), cumulative (Wh, ...); "
            "add :estimated for an estimate" % ", ".join("%d %s" % (i, n) for i, n in enumerate(COMMODITIES[:8])),
        )  # fmt: skip

    def value(self, a, notes):
        recs = a.records
        for r in recs or ():
            n = COMMODITIES[r["code"]] if r["code"] < len(COMMODITIES) else "undefined"
            notes.append("record %d = %s" % (r["code"], n))
        return recs


_OPCODES = {n: op for op, n in basic_opcodes().items()}  # Basic DR opcode1 by name


def field(name, fmt="B"):
    """The handler of a table field `name` with struct format character(s) fmt."""
    if fmt.endswith("s"):
        return Text(name, int(fmt[:-1] or 1))
    lo, hi = _RANGES.get(fmt, (0, 0xFF))
    special = {
        "duration": Duration,
        "price": Price,
        "power": Power,
        "timesync": TimeSync,
        "override": Override,
        "code": PayloadCode,
        "records": Records,
    }
    if name in special:
        return special[name](name)
    if name == "utc":
        return Moment(name, now_default=True)
    if name in ("start", "expiry"):
        return Moment(name)
    if name == "currency":
        return Field(name, lo, hi, help="ISO 4217 currency number, e.g. 840 (USD), 978 (EUR), 124 (CAD)")
    if name in ("cost", "next_cost"):
        return Field(name, lo, hi, help="the price in units of 10**-digits of the currency, %d..%d" % (lo, hi))
    if name == "digits":
        return Field(name, lo, hi, help="digits after the decimal point of cost (3: cost 125 = 0.125)")
    if name == "tz":
        return Quarters(name, -128, 127, "time zone offset in hours, a multiple of 0.25")
    if name == "dst":
        return Quarters(name, 0, 255, "DST offset in hours, a multiple of 0.25")
    if name == "value" and fmt == "H":
        return Amount(name, lo, hi)
    if name == "opcode":
        return Field(name, lo, hi, _OPCODES, help="opcode1: a Basic DR kind name (shed, comm_status, ...) or a number")
    if name == "units":
        return Field(name, lo, hi, UNITS, default=0, help="Wh | 10Wh | 100Wh | kWh, or 0..255 (255 = special)")
    if name == "rc":
        return Field(name, lo, hi, names.TABLES["rc"].split(), default=0)
    if name == "op2":
        return Field(name, lo, hi, default=0, help="opcode2 byte 0..255")
    if name in names.TABLES:
        return Field(name, lo, hi, names.TABLES[name].split())
    return Field(name, lo, hi)


# --- kinds: one per message of the tables --------------------------------------------------

_FMT = re.compile(r"(\d*)([a-zA-Z*])")


def parse_group(g):
    """A table group "HHB duration_min value units" -> [(field, struct char), ...]."""
    fmt, *fields = g.split()
    chars = []
    for count, c in _FMT.findall(fmt):
        if c == "s" or c == "*":
            chars.append(count + c)
        else:
            chars += [c] * int(count or 1)
    if len(chars) != len(fields):
        raise ValueError("group %r: %d formats for %d fields" % (g, len(chars), len(fields)))
    return list(zip(fields, chars))


class Kind:
    """One message kind: name, help, its request groups and (Intermediate) reply groups
    as [[(field, fmt), ...], ...], the handlers of every field, and build(args)."""

    def __init__(self, name, help_text, request, reply=None, aliases=()):
        self.name = name
        self.request = request
        self.reply = reply
        self.aliases = tuple(aliases)
        self.handlers = {}
        for g in request + (reply or []):
            for f, fmt in g:
                if f not in self.handlers:
                    self.handlers[f] = field(f, fmt)
        opts = ["|".join(h.options) for h in self.handlers.values()]
        self.help = help_text + (" (%s)" % " ".join(opts) if opts else "")

    def add(self, p):
        basic_field = self.reply is None and len(self.request) == 1 and len(self.request[0]) == 1
        for h in self.handlers.values():
            h.add(p, required=basic_field and h.default is None and type(h) is Field)
        if self.reply is not None:
            self.forms = p.add_mutually_exclusive_group()
            self.forms.add_argument(
                "--reply", action="store_true", help="the reply (op2 | 0x80, a response code first)"
            )
            if self.request:
                self.forms.add_argument("--get", action="store_true", help="the Get form (op1 op2, no data)")

    def build(self, a):
        """(frame, notes) from parsed options; UsageError for a bad combination."""
        notes = []
        if self.reply is None:  # Basic DR or data-link: the one opcode2 field
            ((f, _),) = self.request[0]
            v = self.handlers[f].value(a, notes)
            if v is None:
                raise UsageError("give %s" % self.handlers[f].options[0])
            return encode(self.name, **{f: v}), notes
        reply = a.reply
        groups = self.reply if reply else self.request
        here = {f for g in groups for f, _ in g}
        for f, h in self.handlers.items():
            if f not in here and h.given(a):
                where = "only in the request (without --reply)" if reply else "only in the reply (add --reply)"
                raise UsageError("%s is %s" % (h.options[0], where))
        if getattr(a, "get", False):
            if reply:
                raise UsageError("--get is a request: not with --reply")
            if any(h.given(a) for h in self.handlers.values()):
                raise UsageError("--get takes no other options")
            return encode(self.name), notes
        fields = resolve(groups, self.handlers, a, notes, reply)
        return encode(self.name, reply=reply, **fields), notes


def resolve(groups, handlers, a, notes, reply=False):
    """The fields of the groups up to the last one with an option given, each group
    complete (a field not given takes its default); UsageError naming what is missing.
    Nothing given: no groups (a Get), unless the first group has defaults for all."""
    given = [i for i, g in enumerate(groups) if any(handlers[f].given(a) for f, _ in g)]
    last = given[-1] if given else -1
    if last < 0 and groups and all(handlers[f].default is not None for f, _ in groups[0]):
        last = 0
    out = {}
    for i in range(last + 1):
        missing = [h.options[0] for h in (handlers[f] for f, _ in groups[i]) if not h.given(a) and h.default is None]
        if missing:
            if i == 0:
                need = [handlers[f].options[0] for f, _ in groups[0] if handlers[f].default is None]
                raise UsageError("give %s%s" % (" and ".join(need), "" if reply else " (or --get)"))
            if i in given:  # a group is all or nothing
                have = [handlers[f].options[0] for f, _ in groups[i] if handlers[f].given(a)]
                raise UsageError("%s needs %s (these fields go together)" % (have[0], " and ".join(missing)))
            later = [handlers[f].options[0] for j in given if j > i for f, _ in groups[j] if handlers[f].given(a)]
            raise UsageError("%s needs %s (the optional fields are positional)" % (later[0], missing[0]))
        for f, _ in groups[i]:
            out[f] = handlers[f].value(a, notes)
    return out


class AluKind(Kind):
    """Advanced Load Up (section 4.6): also --probe, and a note of the energy asked."""

    def add(self, p):
        Kind.add(self, p)
        self.forms.add_argument("--probe", action="store_true", help="support probe: duration 0, value 0, units 0xFF")

    def build(self, a):
        if a.probe:
            if any(h.given(a) for h in self.handlers.values()):
                raise UsageError("--probe takes no other options")
            return encode(self.name, duration_min=0, value=0, units=0xFF), ["support probe: value 0, units 0xff"]
        frame, notes = Kind.build(self, a)
        if a.value is not None and not a.get:
            units = a.units if a.units is not None else 0
            if a.value == 0xFFFF:
                notes.append("energy: as much as safely possible over %d min" % a.duration_min)
            elif units < len(UNITS):
                wh = a.value * 10**units
                notes.append("energy %d x %s = %d Wh over %d min" % (a.value, UNITS[units], wh, a.duration_min))
            else:
                notes.append("units 0x%02x is %s" % (units, "special" if units == 255 else "reserved"))
        return frame, notes


class UtcKind(Kind):
    """Set UTC Time (section 4.4): a note with the time as ISO-8601."""

    def build(self, a):
        frame, notes = Kind.build(self, a)
        f = decode(frame).fields
        if "utc" in f:
            utc = f["utc"]
            text = "utc %s = %d s since 2000 (0x%08x), tz %d, dst %d quarter hours"
            notes.append(text % (_iso(utc), utc, utc, f["tz"], f["dst"]))
        return frame, notes


class CommodityKind(Kind):
    """Commodity read (section 4.3): a request for one commodity, all of them, or (Set
    Commodity Read) --record rows."""

    def build(self, a):
        if not a.reply and a.records and a.commodity is None:
            notes = []
            return encode(self.name, records=self.handlers["records"].value(a, notes)), notes
        if not a.reply and a.records:
            raise UsageError("--record (a Set) or --commodity (a Get), not both")
        frame, notes = Kind.build(self, a)
        if not a.reply and a.commodity is not None:
            c = a.commodity & 0x7F
            notes.append("commodity %d = %s" % (a.commodity, COMMODITIES[c] if c < len(COMMODITIES) else "undefined"))
        return frame, notes


class MtsqKind(Kind):
    """Message Type Supported Query, LEN 0 (section 2.5): --type."""

    def __init__(self):
        Kind.__init__(self, "mtsq", "Message Type Supported Query, LEN 0", [], None, ("type_supported_query",))
        self.help += " (--type)"

    def add(self, p):
        p.add_argument(
            "--type", type=_mt_type, required=True, metavar="TYPE",
            help="basic | intermediate | datalink | commissioning, or MT1 MT2 in hex (0901)",
        )  # fmt: skip

    def build(self, a):
        return encode("type_supported_query", mt=a.type), ["message type %04x" % a.type]


def _kinds():
    out = {}
    for table, mt, base, what in _KINDS_OF_TABLE:
        for i, e in enumerate(table):
            if e == "-":
                continue
            name, f = e.split(":")
            out[name] = Kind(name, "%s %02X %s" % (what, i + base, name), [[(f, "B")]])
    specials = {"advanced_load_up": AluKind, "utc_time": UtcKind, "commodity_read": CommodityKind}
    for key in sorted(INTERMEDIATE):
        name, req, rep = INTERMEDIATE[key]
        cls = specials.get(name, Kind)
        k = cls(
            name, "Intermediate %02X %02X %s, or its reply" % (key >> 8, key & 0xFF, name),
            [parse_group(g) for g in req], [parse_group(g) for g in rep],
        )  # fmt: skip
        out[name] = k
    out["mtsq"] = MtsqKind()
    return out


# Every encode kind, in help order: name -> Kind
KINDS = _kinds()


def add_parsers(sub, common):
    """A subparser of `sub` for every kind (and alias); common(p) adds the options every
    kind has. Returns {kind or alias: Kind}."""
    by_name = {}
    for name, k in KINDS.items():
        sp = sub.add_parser(name, help=k.help, description=k.help, aliases=list(k.aliases))
        k.add(sp)
        common(sp)
        for n in (name,) + k.aliases:
            by_name[n] = k
    return by_name
