# The commands the owner can send, their arguments and their frames: the one place that
# checks them, for every entry point (Engine.submit, and through it the HTTP API, the web
# page and the PC tools). An error names the field and what it may be, the same from
# everywhere: ValueError("percent: must be a number 0..100"). Loaded on the first
# command, not with the engine.
#   check(kind, args) -> the arguments with defaults filled and names as their index
#   frame(kind, args, device_type) -> (frame, extra) for the SGD

from cta2045 import basic
from cta2045.basic import WORDS  # the words of a field: the codec's own
from cta2045.message import encode

REQUIRED = "required"  # no default: the field must be given
# A field: (name, what, lo, hi, default). what: "int" or "num" (lo..hi), or a table of words
# of cta2045.basic.WORDS, given by name and passed on as its index. Durations in seconds,
# null = unknown (PROTOCOL.md section 3.2); the price ratio up to what its byte encodes
# (9.79).
_DURATION = (("duration_s", "int", 0, 0x7FFFFFFF, None),)
COMMANDS = {
    "shed": _DURATION,
    "load_up": _DURATION,
    "critical_peak": _DURATION,
    "grid_emergency": _DURATION,
    "end": (),
    "power_level": (("percent", "num", 0, 100, REQUIRED), ("direction", "direction", 0, 0, "absorb")),
    "price": (("relative", "num", 0, 9.79, REQUIRED),),
    "grid_guidance": (("guidance", "guidance", 0, 0, REQUIRED),),
    "advanced_load_up": (  # section 4.6
        ("duration_min", "int", 0, 0xFFFF, REQUIRED),
        ("value", "int", 0, 0xFFFF, REQUIRED),
        ("units", "units", 0, 0, REQUIRED),
    ),
    "get_setpoint": (),
    "set_setpoint": (("setpoint", "int", -32767, 32767, REQUIRED), ("units", "temp_units", 0, 0, REQUIRED)),  # 4.5
    "refresh_info": (),
    "refresh_energy": (),
}
# The DR commands with a duration byte (section 3.1), encoded by their Basic DR name
DR = ("shed", "load_up", "critical_peak", "grid_emergency")
# A setpoint per units (F, C): liquid water, freezing to boiling. The wire value is an
# int16; the heater applies its own, narrower limits.
SETPOINT_RANGE = ((32, 212), (0, 100))


def check(kind, args):
    """The arguments of a command as the engine takes them, or ValueError("field: why")."""
    spec = COMMANDS.get(kind)
    if spec is None:
        raise ValueError("kind: unknown command %s" % kind)
    a = args or {}
    names = [f[0] for f in spec]
    for name in a:
        if name not in names:
            raise ValueError("%s: unknown field" % name)
    out = {}
    for name, what, lo, hi, default in spec:
        v = a.get(name, default)
        if v is REQUIRED:
            raise ValueError("%s: missing" % name)
        if what != "int" and what != "num":  # words
            words = WORDS[what].split()
            if type(v) is not str or v not in words:
                raise ValueError("%s: must be one of %s" % (name, ", ".join(words)))
            v = words.index(v)
        elif v is not None or default is not None:
            # bool is not a number here; NaN and the infinities fail lo <= v <= hi
            if not (type(v) is int or what == "num" and type(v) is float) or not lo <= v <= hi:
                # %g: the same text on every port (MicroPython prints 9.79 as 9.789999999999999)
                raise ValueError(
                    ("%s: must be a number %g..%g" if what == "num" else "%s: must be an integer %d..%d")
                    % (name, lo, hi)
                )
        out[name] = v
    if kind == "set_setpoint":
        lo, hi = SETPOINT_RANGE[out["units"]]
        if not lo <= out["setpoint"] <= hi:
            raise ValueError("setpoint: must be %d..%d for units %s" % (lo, hi, a["units"]))
    return out


def frame(kind, args, device_type=0):
    """(the frame, extra) for a command whose arguments check() has passed; extra: what
    the result reports about a duration, or None. device_type: the SGD's own (setpoint)."""
    a = args
    if kind in DR:
        d = a["duration_s"]
        code = basic.duration_code(d)
        return encode(kind, duration=code), {
            "requested_s": d,
            "duration_code": code,
            "encoded_s": basic.duration_seconds(code),
        }
    if kind == "end":
        f = encode("end_shed")
    elif kind == "power_level":
        f = encode("power_level", power=basic.power_code(a["percent"], a["direction"] == 1))
    elif kind == "price":
        f = encode("present_price", price=basic.price_code(a["relative"]))
    elif kind == "grid_guidance" or kind == "advanced_load_up":
        f = encode(kind, **a)
    elif kind == "set_setpoint":
        f = encode("setpoint", device_type=device_type, temp_units=a["units"], setpoint1=a["setpoint"])
    else:  # the reads
        f = encode({"get_setpoint": "setpoint", "refresh_info": "get_information"}.get(kind, "commodity_read"))
    return f, None
