# Decode any CTA-2045 frame to a Message, and encode any message kind by name.
# Basic DR (section 3), Intermediate DR (section 4) and data-link (section 2.6) messages
# are described by tables; one small interpreter decodes and encodes all of them, so a
# decoded message re-encodes to the same bytes. Unknown types and opcodes decode
# leniently (raw bytes kept); structural problems raise CodecError.

import struct

from cta2045 import CodecError
from cta2045.frame import LEN_MASK, MT_BASIC, MT_DATALINK, MT_INTERMEDIATE, build, valid

# Basic DR, section 3.1. op1: "name field", field = what opcode2 carries.
BASIC = {
    0x01: "shed duration",
    0x02: "end_shed op2",
    0x03: "app_ack opcode",
    0x04: "app_nak reason",
    0x06: "power_level power",
    0x07: "present_price price",
    0x08: "next_price price",
    0x09: "time_remaining duration",
    0x0A: "critical_peak duration",
    0x0B: "grid_emergency duration",
    0x0C: "grid_guidance guidance",
    0x0E: "comm_status status",
    0x11: "customer_override override",
    0x12: "op_state_query op2",
    0x13: "op_state state",
    0x14: "sleep op2",
    0x15: "wake op2",
    0x16: "time_sync timesync",
    0x17: "load_up duration",
    0x18: "pending_event_time duration",
    0x19: "pending_event_type opcode",
    0x1A: "reboot op2",
}

# Data-link, section 2.6 (0x1A..0x1E UNCONFIRMED, kept for decoding).
DATALINK = {
    0x16: "power_mode mode",
    0x17: "bit_rate rate",
    0x18: "max_payload_query op2",
    0x19: "max_payload code",
    0x1A: "slot_query op2",
    0x1B: "slot_response slot",
    0x1C: "slots_query op2",
    0x1D: "slots_response slot",
    0x1E: "next_command_slot slot",
}

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
    0x0300: ("energy_price", (), (_RC,)),
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

_groups = {}  # group text -> (struct format, field names, size, letters), parsed once
_LIMITS = {"B": 255, "b": 127, "H": 65535, "h": 32767, "I": 0xFFFFFFFF}


def _group(g):
    p = _groups.get(g)
    if p is None:
        fmt, *names = g.split()
        # one (letter, width) per field: "2sHB" -> ("s", 2), ("H", 1), ("B", 1)
        letters = []
        w = ""
        for k in fmt:
            if "0" <= k <= "9":
                w += k
            else:
                letters.append((k, int(w or "1")))
                w = ""
        size = 13 if fmt == "*" else struct.calcsize(">" + fmt)
        p = _groups[g] = (fmt, names, size, letters)
    return p


def _text(b):
    # Fixed-width ASCII, NUL- or space-padded (section 4.2)
    s = ""
    for c in b:
        if c == 0:
            break
        s += chr(c) if 32 <= c < 127 else "?"
    return s.rstrip()


def _u48(b, i):
    return (b[i] << 40) | (b[i + 1] << 32) | (b[i + 2] << 24) | (b[i + 3] << 16) | (b[i + 4] << 8) | b[i + 5]


def _unpack(groups, data, pos, fields):
    end = len(data)
    for g in groups:
        if pos == end:
            break
        fmt, names, size, _ = _group(g)
        if fmt == "*":  # commodity records, section 4.3
            recs = []
            while pos < end:
                if end - pos < 13:
                    raise CodecError("truncated commodity record")
                c = data[pos]
                recs.append(
                    {"code": c & 0x7F, "measured": c > 0x7F, "rate": _u48(data, pos + 1), "cumulative": _u48(data, pos + 7)}
                )
                pos += 13
            fields[names[0]] = recs
            continue
        if end - pos < size:
            raise CodecError("truncated " + names[0])
        vals = struct.unpack_from(">" + fmt, data, pos)
        for i in range(len(names)):
            v = vals[i]
            fields[names[i]] = _text(v) if isinstance(v, bytes) else v
        pos += size
    if pos < end:
        fields["extra"] = hexstr(data[pos:])


def _pack(groups, fields, out):
    used = 0
    for g in groups:
        fmt, names, size, letters = _group(g)
        if names[0] not in fields:
            break
        used += len(names)
        if fmt == "*":
            for r in fields[names[0]]:
                out.append(r["code"] | (0x80 if r.get("measured") else 0))
                out += _be(r["rate"], 6) + _be(r["cumulative"], 6)
            continue
        vals = []
        for i in range(len(names)):
            k, w = letters[i]
            v = fields.get(names[i])
            if v is None:
                raise CodecError("missing " + names[i])
            if k == "s":
                v = v.encode() if isinstance(v, str) else bytes(v)
                if len(v) > w:
                    raise CodecError(names[i] + " too long")
            else:
                _check(names[i], v, _LIMITS[k], k in "bh")
            vals.append(v)
        out += struct.pack(">" + fmt, *vals)
    return used


def _check(name, v, hi, signed=False):
    if not isinstance(v, int) or not (-hi - 1 if signed else 0) <= v <= hi:
        raise CodecError(name + " out of range")


def _be(v, n):
    _check("value", v, (1 << (8 * n)) - 1)
    return bytes((v >> (8 * (n - 1 - i))) & 0xFF for i in range(n))


def hexstr(b):
    return "".join("%02x" % c for c in b)


class Message:
    """A decoded frame. mt is MT1 << 8 | MT2 (0 for a link ACK/NAK); name says what it
    is ("shed", "get_information", "link_ack", "unknown_opcode", ...); reply is True for
    an Intermediate reply; fields holds the decoded values as plain ints, strings,
    lists and dicts; checksum_ok is False for a frame whose checksum failed."""

    def __init__(self, mt, name, payload=b"", fields=None, reply=False, checksum_ok=True):
        self.mt = mt
        self.name = name
        self.payload = payload
        self.fields = {} if fields is None else fields
        self.reply = reply
        self.checksum_ok = checksum_ok

    @property
    def op1(self):
        return self.payload[0] if self.payload else None

    @property
    def op2(self):
        return self.payload[1] if len(self.payload) > 1 else None

    def to_dict(self):
        """A JSON-able dict with human-readable names and scaled values."""
        from cta2045.names import describe

        return describe(self)

    def __repr__(self):
        return "Message(%s, %r)" % (self.name, self.fields)


def decode(frame, check=True):
    """Decode one whole frame (or a 2-byte link ACK/NAK) to a Message."""
    n = len(frame)
    if n == 2 and frame[0] in (0x06, 0x15):
        if frame[0] == 0x06:
            return Message(0, "link_ack", bytes(frame))
        return Message(0, "link_nak", bytes(frame), {"nak": frame[1]})
    if n < 6:
        raise CodecError("truncated frame")
    ln = (frame[2] << 8 | frame[3]) & LEN_MASK
    if ln + 6 != n:
        raise CodecError("LEN %d but %d payload bytes" % (ln, n - 6))
    return decode_payload(frame[0] << 8 | frame[1], bytes(frame[4 : 4 + ln]), valid(frame) if check else True)


def decode_payload(mt, p, checksum_ok=True):
    """Decode a payload of message type mt (a frame without header and checksum)."""
    n = len(p)
    if n == 0:
        return Message(mt, "type_supported_query", p, None, False, checksum_ok)
    fields = {}
    reply = False
    if mt == MT_BASIC or mt == MT_DATALINK:
        if mt == MT_BASIC and n != 2:
            raise CodecError("Basic DR payload must be 2 bytes")
        if n < 2:
            raise CodecError("truncated data-link message")
        entry = (BASIC if mt == MT_BASIC else DATALINK).get(p[0])
        if entry is None:
            name = "unknown_opcode"
            fields["op2"] = p[1]
        else:
            name, f = entry.split()
            fields[f] = p[1]
        if n > 2:
            fields["extra"] = hexstr(p[2:])
    elif mt == MT_INTERMEDIATE:
        if n < 2:
            raise CodecError("truncated Intermediate DR message")
        reply = p[1] > 0x7F
        entry = INTERMEDIATE.get(p[0] << 8 | (p[1] & 0x7F))
        if entry is None:
            name = "unknown_opcode"
            _unpack((), p, 2, fields)
        else:
            name = entry[0]
            groups = entry[2] if reply else entry[1]
            if not reply and name == "commodity_read" and n > 3:
                groups = _RECORDS
            _unpack(groups, p, 2, fields)
    else:
        name = "unknown_type"
    return Message(mt, name, p, fields, reply, checksum_ok)


def encode(name, reply=False, **fields):
    """The whole frame for message kind name with the given fields, e.g.
    encode("shed", duration=0x11) or encode("utc_time", reply=True, rc=0, utc=...).
    encode("type_supported_query", mt=0x0802) builds an MTSQ."""
    if name == "type_supported_query":
        return build(fields.get("mt", MT_BASIC))
    for mt, table in ((MT_BASIC, BASIC), (MT_DATALINK, DATALINK)):
        for op1 in table:
            nm, f = table[op1].split()
            if nm == name:
                v = fields.pop(f, 0)
                _check(f, v, 255)
                p = bytes((op1, v))
                if "extra" in fields and mt == MT_DATALINK:
                    p += bytes.fromhex(fields.pop("extra"))
                if fields:
                    raise CodecError("unknown field " + ",".join(fields))
                return build(mt, p)
    for key in INTERMEDIATE:
        entry = INTERMEDIATE[key]
        if entry[0] == name:
            out = bytearray((key >> 8, (key & 0xFF) | (0x80 if reply else 0)))
            groups = entry[2] if reply else entry[1]
            if not reply and "records" in fields:
                groups = _RECORDS
            used = _pack(groups, fields, out)
            if "extra" in fields:
                out += bytes.fromhex(fields["extra"])
                used += 1
            if used != len(fields):
                raise CodecError("unknown or out-of-order field")
            return build(MT_INTERMEDIATE, out)
    raise CodecError("unknown message " + name)
