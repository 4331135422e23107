# Human-readable names and scaled values for decoded messages: describe(msg) turns a
# Message into a plain JSON-able dict for the HTTP API, logs and the decode CLI.
# Imported only when a dict is wanted, so the device pays for these strings on demand.
# Tables: docs/cta2045-protocol.md sections 1.2, 2.1, 2.6, 3.1-3.3, 4.1-4.6.

from cta2045.basic import duration_seconds, power_percent, price_ratio
from cta2045.message import BASIC, hexstr

OP_STATES = (
    "idle_normal running_normal running_curtailed running_heightened idle_curtailed "
    "sgd_error idle_heightened cycling_on cycling_off variable_following "
    "variable_not_following idle_opted_out running_opted_out running_price_stream "
    "idle_price_stream"
)
APP_NAK = "no_reason opcode1_not_supported opcode2_invalid busy length_invalid customer_override"
LINK_NAK = (
    "no_reason invalid_byte invalid_length checksum_error reserved message_timeout "
    "unsupported_message_type request_not_supported"
)
RESPONSE_CODES = (
    "success not_implemented bad_value command_length_error response_length_error busy "
    "other_error customer_override not_enabled"
)
COMM_STATUS = "lost found poor"
GUIDANCE = "bad neutral good"
WEEKDAYS = "sunday monday tuesday wednesday thursday friday saturday"
CAPABILITIES = (
    "cycling tier_mode price_mode temperature_offset continuously_variable_power "
    "discretely_variable_power advanced_load_up price_stream efficiency_level"
)
# commodity code: name and units of rate/cumulative (section 4.3)
COMMODITIES = (
    "electricity_consumed:W:Wh electricity_produced:W:Wh natural_gas:ft3/h:ft3 "
    "water:gal/h:gal gas:m3/h:m3 water:L/h:L total_storage_capacity:W:Wh "
    "present_storage_capacity:W:Wh rated_max_consumption:W:Wh "
    "rated_max_production:W:Wh alu_total_storage_capacity:W:Wh "
    "alu_present_storage_capacity:W:Wh"
)
DEVICE_TYPES = {
    0x0000: "unspecified",
    0x0001: "water_heater_gas",
    0x0002: "water_heater_electric",
    0x0003: "water_heater_heat_pump",
    0x001B: "water_heater_heat_pump_variable",
    0x001C: "water_heater_phase_change",
}
PASS_THROUGH = (
    "usnap climatetalk sep1 sep2 openadr1 openadr2 generic_ip econet knx lontalk "
    "sunspec_modbus bacnet"
)
MAX_PAYLOAD = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1280, 1500, 2048, 4096)
ALU_SCALE = (1, 10, 100, 1000)  # units 0..3: Wh, 10 Wh, 100 Wh, kWh (section 4.6)
EPOCH_2000 = 946684800  # CTA-2045 UTC counts seconds from 2000-01-01T00:00:00Z


def pick(table, i):
    """Name number i of a space-separated table, or None."""
    t = table.split()
    return t[i] if 0 <= i < len(t) else None


def type_name(mt):
    hi = mt >> 8
    if mt == 0:
        return "link"
    if hi == 8 and 1 <= mt & 0xFF <= 4:
        return pick("basic_dr intermediate_dr data_link commissioning", (mt & 0xFF) - 1)
    if hi == 9:
        return pick(PASS_THROUGH, (mt & 0xFF) - 1) or "pass_through"
    return "vendor" if hi <= 5 or hi >= 0xF0 else "unknown"


def iso_date(days):
    # days since 1970-01-01 -> "YYYY-MM-DD" (proleptic Gregorian civil calendar)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return "%04d-%02d-%02d" % (yoe + era * 400 + (m <= 2), m, d)


def utc_iso(utc2000):
    t = utc2000 + EPOCH_2000
    s = t % 86400
    return "%sT%02d:%02d:%02dZ" % (iso_date(t // 86400), s // 3600, s // 60 % 60, s % 60)


def _opname(op):
    e = BASIC.get(op)
    return e.split()[0] if e else None


def _humanize(f, out):
    for k in f:
        v = f[k]
        out[k] = v
        if k == "duration":
            out["duration_s"] = duration_seconds(v)
            if v == 0 or v == 255:
                out["duration_special"] = "unknown" if v == 0 else "too_long"
        elif k == "price":
            out["price_ratio"] = price_ratio(v)
        elif k == "power":
            pct, produce = power_percent(v)
            out["percent"] = round(pct, 1)
            out["direction"] = "produce" if produce else "absorb"
        elif k == "state":
            out["state_name"] = pick(OP_STATES, v)
        elif k == "opcode":
            out["opcode_name"] = _opname(v)
        elif k == "reason":
            out["reason_name"] = pick(APP_NAK, v)
        elif k == "nak":
            out["nak_name"] = pick(LINK_NAK, v)
        elif k == "status":
            out["status_name"] = pick(COMM_STATUS, v)
        elif k == "guidance":
            out["guidance_name"] = pick(GUIDANCE, v)
        elif k == "override":
            out["in_effect"] = v != 0
        elif k == "timesync":
            out["weekday"] = pick(WEEKDAYS, v >> 5)
            out["hour"] = v & 0x1F
        elif k == "rc":
            out["rc_name"] = pick(RESPONSE_CODES, v)
        elif k == "device_type":
            out["device_type_name"] = DEVICE_TYPES.get(v, "0x%04x" % v)
        elif k == "capability":
            out["capabilities"] = [c for i, c in enumerate(CAPABILITIES.split()) if v >> i & 1]
        elif k == "temp_units":
            out["temp_units_name"] = pick("F C", v)
        elif k == "utc":
            out["utc_iso"] = utc_iso(v)
        elif k == "tz" or k == "dst":
            out[k + "_hours"] = v / 4
        elif k == "fw_day":
            out["fw_date"] = "%04d-%02d-%02d" % (2000 + f["fw_year"], f["fw_month"] + 1, v)
        elif k == "code":
            out["max_payload_bytes"] = MAX_PAYLOAD[v] if v < len(MAX_PAYLOAD) else None
        elif k == "rate":
            out["bit_rate"] = 19200 * (1, 2, 3, 6, 12, 24, 48, 96, 192)[v] if v < 9 else None
        elif k == "units" and "value" in f:
            scale = ALU_SCALE[v] if v < 4 else None
            out["units_name"] = pick("Wh 10Wh 100Wh kWh", v) or ("special" if v == 255 else None)
            val = f["value"]
            out["energy_wh"] = None if scale is None or val == 0xFFFF else val * scale
        elif k == "records":
            recs = []
            for r in v:
                r = dict(r)
                c = pick(COMMODITIES, r["code"])
                if c:
                    r["name"], r["rate_unit"], r["cumulative_unit"] = c.split(":")
                recs.append(r)
            out[k] = recs


def describe(msg):
    """Message -> JSON-able dict: type, name, opcodes, role, checksum, fields."""
    d = {"type": type_name(msg.mt), "name": msg.name, "checksum_ok": msg.checksum_ok}
    if msg.mt:
        d["mt"] = "%04x" % msg.mt
        d["length"] = len(msg.payload)
    if msg.payload and msg.mt:
        d["op1"] = msg.op1
        if msg.op2 is not None:
            d["op2"] = msg.op2
    if msg.mt == 0x0802 and msg.op2 is not None:
        d["role"] = "reply" if msg.reply else ("get" if len(msg.payload) == 2 else "set")
    if msg.name == "unknown_type":
        d["payload"] = hexstr(msg.payload)
    f = {}
    _humanize(msg.fields, f)
    d["fields"] = f
    return d
