# Decode any CTA-2045 frame to a Message, and encode any message kind by name. Basic DR
# (section 3 of lib/cta2045/PROTOCOL.md), Intermediate DR (section 4) and data-link (section
# 2.6) messages are described by tables; one small interpreter decodes and encodes all of
# them, so a decoded message re-encodes to the same bytes (fixed-width text re-encodes
# NUL-padded). Unknown types and opcodes decode leniently (raw bytes kept); structural
# problems raise CodecError.

import struct

from cta2045 import CodecError
from cta2045.frame import LEN_MASK, MT_BASIC, MT_DATALINK, MT_INTERMEDIATE, build, valid

# Basic DR, section 3.1: entry op1 - 1 is "name:field", field = what opcode2 carries;
# "-" where no source defines the opcode.
BASIC = (
    "shed:duration end_shed:op2 app_ack:opcode app_nak:reason - power_level:power "
    "present_price:price next_price:price time_remaining:duration critical_peak:duration "
    "grid_emergency:duration grid_guidance:guidance - comm_status:status - - "
    "customer_override:override op_state_query:op2 op_state:state sleep:op2 wake:op2 "
    "time_sync:timesync load_up:duration pending_event_time:duration "
    "pending_event_type:opcode reboot:op2"
).split()

# Data-link, section 2.6: entry op1 - 0x16. The slot opcodes 0x1A..0x1E (UNCONFIRMED)
# decode as unknown_opcode with their bytes.
DATALINK = "power_mode:mode bit_rate:rate max_payload_query:op2 max_payload:code".split()


def opcode(table, op):
    """(name, field) of a Basic DR (table BASIC) or data-link (DATALINK) op1, or None."""
    i = op - (1 if table is BASIC else 0x16)
    e = table[i] if 0 <= i < len(table) else "-"
    return None if e == "-" else e.split(":")


# Intermediate DR, section 4. (op1 << 8 | request op2): (name, request groups, reply
# groups). A reply has op2 | 0x80 and starts with the response code. A group is a
# struct format and its field names; groups are optional in order (a Get is a request
# without data, an error reply is just the RC) but each group is all or nothing.
# "*" is a run of 13-byte commodity records to the end of the payload.
_RC = "B rc"
_ALU = (
    "HHB duration_min value units",
    "B efficiency",
    "I event_id",
    "I start",
    "B start_rand",
    "B end_rand",
)
_SETPOINT = ("HBh device_type temp_units setpoint1", "h setpoint2")
_UTC = "IbB utc tz dst"
# Set Energy Price (section 4.5): the price in units of 10**-digits of the currency
# (ISO 4217 number); expiry (the 2000 epoch) and the next price optional
_PRICE = ("HHB cost currency digits", "I expiry", "H next_cost")
INTERMEDIATE = {
    0x0101: (
        "get_information",
        (),
        (
            _RC,
            "2sHHHIB version vendor_id device_type revision capability reserved",
            "16s model",
            "16s serial",
            "BBBBB fw_year fw_month fw_day fw_major fw_minor",
        ),
    ),
    0x0103: ("set_capability_bit", ("BB bit value",), (_RC,)),
    0x0200: ("utc_time", (_UTC,), (_RC, _UTC)),
    0x0300: ("energy_price", _PRICE, (_RC,) + _PRICE),
    0x0301: ("tier", (), (_RC,)),
    0x0302: ("temperature_offset", ("bB offset temp_units",), (_RC, "bB offset temp_units")),
    0x0303: ("setpoint", _SETPOINT, (_RC,) + _SETPOINT),
    0x0304: ("present_temperature", (), (_RC, "HBh device_type temp_units temperature")),
    0x0400: (
        "cycling_start",
        ("IIHB event_id start duration_min duty", "B start_rand", "B end_rand", "B criticality"),
        (_RC,),
    ),
    0x0401: ("cycling_terminate", ("IB event_id end_rand",), (_RC,)),
    0x0600: ("commodity_read", ("B commodity",), (_RC, "* records")),
    0x0601: ("commodity_subscription", (), (_RC,)),
    0x0C00: ("advanced_load_up", _ALU, (_RC,) + _ALU),
}
_RECORDS = ("* records",)  # Set Commodity Read: a request carrying records

_groups = {}  # group text -> (struct format, field names, size), parsed on first use
_RECORD = ">BHIHI"  # commodity record: code, rate and cumulative as uint48 (section 4.3)
_M32 = 0xFFFFFFFF


def _group(g):
    p = _groups.get(g)
    if p is None:
        fmt, *names = g.split()
        fmt = _RECORD if fmt == "*" else ">" + fmt
        p = _groups[g] = (fmt, names, struct.calcsize(fmt))
    return p


def _text(b):
    # Fixed-width ASCII, NUL- or space-padded (section 4.2)
    s = ""
    for c in b:
        if c == 0:
            break
        s += chr(c) if 32 <= c < 127 else "?"
    return s.rstrip()


def _unpack(groups, data, pos, fields):
    end = len(data)
    for g in groups:
        if pos == end:
            break
        fmt, names, size = _group(g)
        if fmt is _RECORD:
            recs = []
            while pos < end:
                if end - pos < size:
                    raise CodecError("truncated record")
                c, r1, r0, c1, c0 = struct.unpack_from(fmt, data, pos)
                recs.append(
                    {"code": c & 0x7F, "measured": c > 0x7F, "rate": r1 << 32 | r0, "cumulative": c1 << 32 | c0}
                )
                pos += size
            fields[names[0]] = recs
            continue
        if end - pos < size:
            raise CodecError("truncated " + names[0])
        vals = struct.unpack_from(fmt, data, pos)
        for i in range(len(names)):
            v = vals[i]
            fields[names[i]] = _text(v) if isinstance(v, bytes) else v
        pos += size
    if pos < end:
        fields["extra"] = data[pos:].hex()


def _pack(groups, fields, out):
    # Pack the groups whose first field is given; a value that does not survive
    # pack + unpack unchanged is out of range (MicroPython's struct truncates silently).
    used = 0
    for g in groups:
        fmt, names, size = _group(g)
        if names[0] not in fields:
            break
        used += len(names)
        if fmt is _RECORD:
            rows = []
            for r in fields[names[0]]:
                if not 0 <= r["code"] <= 127:
                    raise CodecError("code out of range")
                rt = r["rate"]
                cu = r["cumulative"]
                rows.append((r["code"] | (0x80 if r.get("measured") else 0), rt >> 32, rt & _M32, cu >> 32, cu & _M32))
        else:
            rows = [[fields[n] for n in names]]
        for vals in rows:
            b = struct.pack(fmt, *[v.encode() if isinstance(v, str) else v for v in vals])
            if [_text(u) if isinstance(u, bytes) else u for u in struct.unpack(fmt, b)] != list(vals):
                raise CodecError("out of range: " + g)
            out += b
    return used


class Message:
    """A decoded frame. mt is MT1 << 8 | MT2 (0 for a link ACK/NAK); name says what it
    is ("shed", "get_information", "link_ack", "unknown_opcode", ...); op1/op2 are the
    opcodes (None where absent); reply is True for an Intermediate reply; fields holds
    the decoded values as plain ints, strings, lists and dicts; checksum_ok is False for
    a frame whose checksum failed."""

    def __init__(self, mt, name, payload=b"", fields=None, reply=False, checksum_ok=True):
        self.mt = mt
        self.name = name
        self.payload = payload
        self.op1 = payload[0] if payload else None
        self.op2 = payload[1] if len(payload) > 1 else None
        self.fields = {} if fields is None else fields
        self.reply = reply
        self.checksum_ok = checksum_ok

    def to_dict(self):
        """A JSON-able dict with human-readable names and scaled values."""
        from cta2045.names import describe

        return describe(self)


def decode(frame, check=True):
    """Decode one whole frame (or a 2-byte link ACK/NAK) to a Message."""
    n = len(frame)
    if n == 2:
        b = frame[1]
        if frame[0] == 6 and b == 0:
            return Message(0, "link_ack", b"\x06\x00")
        if frame[0] == 0x15 and b < 8:
            return Message(0, "link_nak", bytes(frame), {"nak": b})
    if n < 6:
        raise CodecError("truncated frame")
    ln = (frame[2] << 8 | frame[3]) & LEN_MASK
    if ln + 6 != n:
        raise CodecError("bad LEN")
    return decode_payload(frame[0] << 8 | frame[1], bytes(frame[4 : 4 + ln]), valid(frame) if check else True)


def decode_payload(mt, p, checksum_ok=True):
    """Decode a payload of message type mt (a frame without header and checksum)."""
    n = len(p)
    fields = {}
    reply = False
    name = "unknown_type"
    if n == 0:
        name = "type_supported_query"
    elif MT_BASIC <= mt <= MT_DATALINK:
        if n < 2 or (n > 2 and mt == MT_BASIC):  # Basic DR is always 2 bytes
            raise CodecError("bad payload length")
        if mt == MT_INTERMEDIATE:
            reply = p[1] > 0x7F
            entry = INTERMEDIATE.get(p[0] << 8 | (p[1] & 0x7F))
            name = "unknown_opcode"
            groups = ()
            if entry:
                name = entry[0]
                groups = entry[2 if reply else 1]
                if not reply and n > 3 and name == "commodity_read":
                    groups = _RECORDS
            _unpack(groups, p, 2, fields)
        else:
            name, f = opcode(BASIC if mt == MT_BASIC else DATALINK, p[0]) or ("unknown_opcode", "op2")
            fields[f] = p[1]
            if n > 2:
                fields["extra"] = p[2:].hex()
    return Message(mt, name, p, fields, reply, checksum_ok)


_kinds = {}  # encode's look-ups, filled on first use


def find(name, reply=False):
    """The public name -> opcode lookup: (message type, opcode bytes, the groups of an
    Intermediate request or reply, or the opcode2 field of a Basic DR or data-link
    message) for message kind `name`, e.g. find("shed") -> (0x0801, b"\\x01",
    "duration"). CodecError for an unknown name."""
    for op in range(1, 0x1B):  # Basic DR op1 0x01..0x1A, data-link 0x16..0x19
        for mt, table in ((MT_BASIC, BASIC), (MT_DATALINK, DATALINK)):
            e = opcode(table, op)
            if e and e[0] == name:
                return mt, bytes((op,)), e[1]
    for key in INTERMEDIATE:
        e = INTERMEDIATE[key]
        if e[0] == name:
            return MT_INTERMEDIATE, bytes((key >> 8, (key & 0xFF) | (0x80 if reply else 0))), e[2 if reply else 1]
    raise CodecError("unknown message " + name)


def encode(name, reply=False, **fields):
    """The whole frame for message kind name with the given fields, e.g.
    encode("shed", duration=0x11) or encode("utc_time", reply=True, rc=0, utc=...).
    An omitted Basic DR opcode2 is 0. encode("type_supported_query", mt=0x0802) builds
    an MTSQ."""
    if name == "type_supported_query":
        return build(fields.get("mt", MT_BASIC))
    key = name + "+" if reply else name
    k = _kinds.get(key)
    if k is None:
        k = _kinds[key] = find(name, reply)
    mt, out, groups = k
    try:
        if mt != MT_INTERMEDIATE:  # opcode2 is the one field; data-link may carry extra
            v = fields.pop(groups, 0)
            if not isinstance(v, int) or not 0 <= v <= 255 or len(fields) > (mt == MT_DATALINK and "extra" in fields):
                raise CodecError("bad fields for " + name)
            out += bytes((v,))
            return build(mt, out + bytes.fromhex(fields["extra"]) if fields else out)
        out = bytearray(out)
        if not reply and "records" in fields:
            groups = _RECORDS
        used = _pack(groups, fields, out)
        if "extra" in fields:
            out += bytes.fromhex(fields["extra"])
            used += 1
    except CodecError:
        raise
    except Exception as e:  # missing field, wrong type, struct overflow, bad hex
        raise CodecError("bad fields for %s: %r" % (name, e))
    if used != len(fields):
        raise CodecError("unknown field")
    return build(mt, out)
