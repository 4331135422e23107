# Human-readable names and scaled values for decoded messages: describe(msg) turns a
# Message into a plain JSON-able dict for the HTTP API, logs and the decode CLI.
# Imported only when a dict is wanted, so the device pays for these strings on demand.
# Tables: lib/cta2045/PROTOCOL.md sections 1.2, 2.1, 2.6, 3.1-3.3, 4.1-4.6.

from cta2045.basic import EPOCH_2000, WORDS, duration_seconds, power_percent, price_ratio
from cta2045.frame import max_payload
from cta2045.message import BASIC, opcode

# Name tables, keyed by the field whose value indexes them: name("state", 2) ->
# "running_curtailed". Sections 3.2 (states), 3.3 (App NAK), 2.1 (link NAK), 4.1
# (response codes), 3.1 (comm status, guidance), 4.5 (temperature units), 4.6 (ALU
# units), 4.2 (device types 0..3); the words a command takes are in basic.WORDS.
TABLES = {
    "state": "idle_normal running_normal running_curtailed running_heightened idle_curtailed "
    "sgd_error idle_heightened cycling_on cycling_off variable_following "
    "variable_not_following idle_opted_out running_opted_out running_price_stream "
    "idle_price_stream",
    "reason": "no_reason opcode1_not_supported opcode2_invalid busy length_invalid customer_override",
    "nak": "no_reason invalid_byte invalid_length checksum_error reserved message_timeout "
    "unsupported_message_type request_not_supported",
    "rc": "success not_implemented bad_value command_length_error response_length_error busy "
    "other_error customer_override not_enabled",
    "status": "lost found poor",
    "device_type": "unspecified water_heater_gas water_heater_electric water_heater_heat_pump",
}
TABLES.update(WORDS)  # guidance, ALU units, temperature units, power direction
WEEKDAYS = "sunday monday tuesday wednesday thursday friday saturday"
# capability bits 0..8 (section 4.2)
CAPABILITIES = (
    "cycling tier_mode price_mode temperature_offset continuously_variable_power "
    "discretely_variable_power advanced_load_up price_stream efficiency_level"
)
# commodity codes (section 4.3): rates in W and amounts in Wh unless the name says
COMMODITIES = (
    "electricity_consumed electricity_produced natural_gas_ft3 water_gal natural_gas_m3 "
    "water_l total_storage_capacity present_storage_capacity rated_max_consumption "
    "rated_max_production alu_total_storage_capacity alu_present_storage_capacity"
)


def name(field, i):
    """Name of value i of a TABLES field, or None."""
    return pick(TABLES[field], i)


def pick(table, i):
    """Name number i of a space-separated table, or None."""
    t = table.split()
    return t[i] if 0 <= i < len(t) else None


def type_name(mt):
    hi = mt >> 8
    if 0x0801 <= mt <= 0x0804:  # frame.MT_BASIC..MT_COMMISSIONING (imported, they cost 59 B of .mpy)
        return pick("basic_dr intermediate_dr data_link commissioning", mt - 0x0801)
    return "link" if mt == 0 else "pass_through" if hi == 9 else "vendor" if hi <= 5 or hi >= 0xF0 else "unknown"


def _humanize(f, out):
    for k in f:
        v = f[k]
        out[k] = v
        t = TABLES.get(k)
        if t:
            out[k + "_name"] = pick(t, v)
        if k == "opcode":
            e = opcode(BASIC, v)
            out["opcode_name"] = e and e[0]
        elif k == "duration":  # 2*n^2 s; None for 0x00 (unknown) and 0xFF (too long)
            out["duration_s"] = duration_seconds(v)
        elif k == "price":
            out["price_ratio"] = price_ratio(v)
        elif k == "power":
            pct, produce = power_percent(v)
            out["percent"] = round(pct, 1)
            out["direction"] = pick(TABLES["direction"], produce)
        elif k == "timesync":
            out["weekday"] = pick(WEEKDAYS, v >> 5)
            out["hour"] = v & 0x1F
        elif k == "device_type" and v > 3:
            out["device_type_name"] = pick("water_heater_heat_pump_variable water_heater_phase_change", v - 0x1B)
        elif k == "capability":
            out["capabilities"] = [c for i, c in enumerate(CAPABILITIES.split()) if v >> i & 1]
        elif k == "utc":
            out["utc_unix"] = v + EPOCH_2000
        elif k in ("tz", "dst"):
            out[k + "_hours"] = v / 4
        elif k == "fw_day":  # month 0 = January
            out["fw_date"] = "%04d-%02d-%02d" % (2000 + f["fw_year"], f["fw_month"] + 1, v)
        elif k == "code":  # max payload codes 0..0x0D (section 2.6)
            out["max_payload_bytes"] = max_payload(v)
        elif k == "rate":
            out["bit_rate"] = 19200 * (v + 1) if v < 2 else 57600 << (v - 2) if v < 9 else None
        elif k == "value" and f.get("units", 9) < 4 and v < 0xFFFF:  # ALU, section 4.6
            out["energy_wh"] = v * 10 ** f["units"]
        elif k == "records":
            out[k] = [dict(r, name=pick(COMMODITIES, r["code"])) for r in v]


def describe(msg):
    """Message -> JSON-able dict: type, name, opcodes, role, checksum, fields."""
    d = {"type": type_name(msg.mt), "name": msg.name, "checksum_ok": msg.checksum_ok}
    if msg.mt:
        d["mt"] = "%04x" % msg.mt
        d["length"] = len(msg.payload)
        d["op1"] = msg.op1
        d["op2"] = msg.op2
    if msg.mt == 0x0802 and msg.op2 is not None:
        # a request without data is a Get, and so is 06 00 <code> (one commodity, 4.3)
        d["role"] = "reply" if msg.reply else "get" if len(msg.payload) == 2 or "commodity" in msg.fields else "set"
    if msg.name == "unknown_type":
        d["payload"] = msg.payload.hex()
    f = {}
    _humanize(msg.fields, f)
    d["fields"] = f
    return d
