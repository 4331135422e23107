# The API's commands, loaded on the first one (firmware/ucm_api.py routes them here). A
# command's JSON body goes to the engine as it is: ucm.commands checks it (a ValueError
# naming the field, answered 400), the same check as for every other entry point. A
# board whose web page is only watched has this code on its heap only once the page asks
# the heater for fresh data (?refresh=1).

import json

from ucm.clock import ticks_diff, ticks_ms
from ucm_api import BUS_FREE_MS, _Bad, _bad, _json

# Engine Result "result" -> HTTP status. 409: the SGD refused (an App NAK, PROTOCOL.md section
# 3.3, or an Intermediate reply with a non-zero RC); 504: it did not answer; 503: no link.
_STATUS = {
    "ack": 200,
    "reply": 200,
    "app_nak": 409,
    "rc_error": 409,
    "link_nak": 409,
    "unsupported": 409,
    "no_ack": 504,
    "timeout": 504,
    "link_down": 503,
}

# POST /api/dr/<name>: the commands of ucm.commands that start or end a DR event
DR = (
    "shed",
    "load_up",
    "critical_peak",
    "grid_emergency",
    "end",
    "power_level",
    "price",
    "grid_guidance",
    "advanced_load_up",
)


def exists(name):
    """True for a DR command's name (POST /api/dr/<name>)."""
    return name in DR


async def dr(app, req, name):
    return await command(app, name, body(req))


async def get_setpoint(app, req, arg):
    bus_get(app, req, "setpoint")
    return await command(app, "get_setpoint", {})


async def put_setpoint(app, req, arg):
    return await command(app, "set_setpoint", body(req))


def body(req):
    """The JSON object a request sent; an empty body is {}. A body's Content-Type must
    be application/json, else 415: what another site's page can send without a CORS
    preflight (a form: urlencoded, multipart, text/plain; a script: those or no type at
    all) is refused, and a preflight is never granted."""
    raw = req.body
    if not raw or not raw.strip():
        return {}
    if (req.content_type or "").split(";")[0].strip().lower() != "application/json":
        raise _Bad("Content-Type must be application/json", None, 415)
    try:
        obj = json.loads(raw.decode())
    except Exception:  # not UTF-8, not JSON, nested too deep
        raise _Bad("body is not JSON", None)
    if type(obj) is not dict:
        raise _Bad("body must be a JSON object", None)
    return obj


def bus_get(app, req, key):
    """A GET that puts traffic on the bus: raises 429 when it comes without the token
    sooner than BUS_FREE_MS after the last such one (app.bus_gets: key -> ticks)."""
    if app.authorized(req):
        return
    now = ticks_ms()
    last = app.bus_gets.get(key)
    if last is not None and ticks_diff(now, last) < BUS_FREE_MS:
        s = (BUS_FREE_MS - ticks_diff(now, last) + 999) // 1000
        raise _Bad(
            "without the token at most one per %d s: wait %d s" % (BUS_FREE_MS // 1000, s),
            None,
            429,
            {"Retry-After": str(s)},
        )
    app.bus_gets[key] = now


async def call(app, kind, args):
    """Run an engine command. Returns (Result, None) when the SGD accepted it (ack or
    reply), else (None, the error response): 409 refused, 504 no answer, 503 link down,
    400 when the engine rejects an argument."""
    try:
        res = await app.ucm.call(kind, args)
    except ValueError as e:  # "field: message"
        msg = str(e)
        i = msg.find(": ")
        field = None
        if i > 0:
            field = msg[:i]
            msg = msg[i + 2 :]
        return None, _bad(msg, field)
    status = _STATUS.get(res.get("result"))
    if status is None:
        raise RuntimeError("engine result %r" % res.get("result"))
    if status == 200:
        return res, None
    out = dict(res)
    out["error"] = res["result"]
    return None, _json(out, status)


async def command(app, kind, args):
    res, err = await call(app, kind, args)
    return err or _json(res)
