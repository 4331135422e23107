# The API's commands, loaded on the first one (firmware/api.py routes them here): the
# field checks, the body of each DR command, and the setpoint. A board whose web page is
# only watched never has this code on its heap.

from api import _Bad, _body

REQUIRED = "required"  # spec default: the field must be given
# Setpoint bounds per unit: liquid water, freezing to boiling. The wire value is an
# int16 (PROTOCOL.md section 4.5); the heater applies its own, narrower limits.
_SETPOINT_RANGE = {"F": (32, 212), "C": (0, 100)}


# --- field checks: check(value, field) -> the value for the engine, or raise _Bad ----


def _integer(v, field):
    if type(v) is not int:  # bool is not an int here
        raise _Bad("must be an integer", field)
    return v


def _int(lo, hi):
    def check(v, field):
        if not lo <= _integer(v, field) <= hi:
            raise _Bad("must be %d..%d" % (lo, hi), field)
        return v

    return check


def _number(lo, hi):
    def check(v, field):
        if type(v) is not int and type(v) is not float:
            raise _Bad("must be a number", field)
        if not lo <= v <= hi:  # also false for NaN and the infinities
            raise _Bad("must be %s..%s" % (lo, hi), field)
        return v

    return check


def _choice(names):
    # "bad neutral good" -> the index of the name given
    names = names.split()

    def check(v, field):
        if type(v) is not str or v not in names:
            raise _Bad("must be one of " + ", ".join(names), field)
        return names.index(v)

    return check


def _optional(check):
    def opt(v, field):
        return None if v is None else check(v, field)

    return opt


def _args(body, spec):
    # body: a JSON object; spec: {field: (check, default or REQUIRED)}
    for k in body:
        if k not in spec:
            raise _Bad("unknown field", k)
    out = {}
    for name in spec:
        check, default = spec[name]
        if name in body:
            out[name] = check(body[name], name)
        elif default is REQUIRED:
            raise _Bad("missing", name)
        else:
            out[name] = default
    return out


# Basic DR durations: seconds; omitted or null = unknown (PROTOCOL.md section 3.2). The engine
# encodes them as 2*n^2 s and says which duration it sent ("encoded_s").
_DURATION = {"duration_s": (_optional(_int(0, 2**31)), None)}
# POST /api/dr/<name>: (name, engine kind, body spec). Opcodes: PROTOCOL.md section 3.1;
# Advanced Load Up: PROTOCOL.md section 4.6.
_DR = (
    ("shed", "shed", _DURATION),
    ("load_up", "load_up", _DURATION),
    ("critical_peak", "critical_peak", _DURATION),
    ("grid_emergency", "grid_emergency", _DURATION),
    ("end", "end", {}),
    (
        "power_level",
        "power_level",
        {"percent": (_number(0, 100), REQUIRED), "direction": (_choice("absorb produce"), 0)},
    ),
    ("price", "price", {"relative": (_number(0, 10), REQUIRED)}),
    ("grid_guidance", "grid_guidance", {"guidance": (_choice("bad neutral good"), REQUIRED)}),
    (
        "advanced_load_up",
        "advanced_load_up",
        {
            "duration_min": (_int(0, 65535), REQUIRED),
            "value": (_int(0, 65535), REQUIRED),
            "units": (_choice("Wh 10Wh 100Wh kWh"), REQUIRED),
        },
    ),
)
_SETPOINT = {
    "setpoint": (_integer, REQUIRED),  # range checked per unit
    "units": (_choice("F C"), REQUIRED),
}


def exists(name):
    """True for a DR command's name (POST /api/dr/<name>)."""
    for d in _DR:
        if d[0] == name:
            return True
    return False


async def dr(app, req, name):
    for n, kind, spec in _DR:
        if n == name:
            break
    args = _args(_body(req), spec)
    if "direction" in args:
        args["produce"] = args.pop("direction") == 1
    return await app.command(kind, args)


async def get_setpoint(app, req, arg):
    app.bus_get(req, "setpoint")
    return await app.command("get_setpoint", {})


async def put_setpoint(app, req, arg):
    args = _args(_body(req), _SETPOINT)
    units = "FC"[args["units"]]
    lo, hi = _SETPOINT_RANGE[units]
    if not lo <= args["setpoint"] <= hi:
        raise _Bad("must be %d..%d for units %s" % (lo, hi, units), "setpoint")
    return await app.command("set_setpoint", args)
