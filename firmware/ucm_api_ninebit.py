# The API's 9-bit bus routes (GET /api/ninebit/frames, /api/ninebit/params, POST
# /api/ninebit/send), loaded on their first request; they answer 409 unless a 9-bit
# personality is active.

from ucm_api import _Bad, _json
from ucm_api_cmd import body as _body
from ucm_api_read import _count


def _ninebit(app):
    nb = app.system.ninebit if app.system else None
    if nb is None:
        bus = app.system.bus["active"] if app.system else "cta2045"
        raise _Bad("the 9-bit bus is not active (bus: %s)" % bus, None, 409)
    return nb


async def frames(app, req, arg):
    nb = _ninebit(app)
    return _json({"frames": nb.frames(_count(req))})


async def params(app, req, arg):
    """GET /api/ninebit/params[?since=MS]: every word (or those changed after since, ms
    since start) and the change log."""
    nb = _ninebit(app)
    since = req.args.get("since")
    if since is not None:
        if not (since and len(since) <= 10 and not since.strip("0123456789")):
            raise _Bad("must be an integer >= 0 (ms since start)", "since")
        since = int(since)
    from ucm.clock import ticks_diff

    return _json(
        {
            "now_ms": ticks_diff(nb.clock(), nb.boot),
            "params": nb.params.rows(since),
            "changes": nb.params.changes(since),
            "note": "temp_c_hypothesis is value/512 degrees C: a hypothesis, not a documented fact",
        }
    )


async def send(app, req, arg):
    """POST /api/ninebit/send {"hex": "90 00 90", "force": false}: only in the ninebit
    personality, only a frame whose checksum holds, a 0x40 broadcast only with force."""
    nb = _ninebit(app)
    body = _body(req) or {}
    for k in body:
        if k != "hex" and k != "force":
            raise _Bad("unknown field", k)
    if "hex" not in body:
        raise _Bad("missing", "hex")
    data = _hexframe(body["hex"], "hex")
    force = body.get("force")
    if force is not None and force is not True and force is not False:
        raise _Bad("must be true or false", "force")
    try:
        await nb.send(data, force is True)
    except ValueError as e:
        msg = str(e)
        raise _Bad(msg.partition(": ")[2] or msg, "hex", 409 if "personality" in msg else 400)
    return _json({"sent": "".join("%02x" % b for b in data), "warning": app.system.bus.get("warning")})


def _hexframe(v, field):
    if type(v) is not str:
        raise _Bad("must be a hex string", field)
    t = v.replace(" ", "")
    try:
        data = bytes.fromhex(t)
    except ValueError:
        raise _Bad("must be a hex string", field)
    if not 2 <= len(data) <= 514:
        raise _Bad("a frame is 2..514 bytes", field)
    return data
