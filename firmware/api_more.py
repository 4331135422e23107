# The API's rarely used routes, loaded on their first request (firmware/api.py names
# them in its route table): the configuration changes, restart, the set-up page and
# form of the access point, the 9-bit bus, and the endpoint index served at / when the
# board has no web page. Kept out of api.py so that their code is not on the heap of a
# board that never uses them.

from api import _Bad, _body, _count, _json, _system
from api_cmd import DR
from microdot import Response


def index_page():
    """The endpoint list (GET / on a board without its web page), from the route table."""
    import api

    routes = sorted(api._IMPL) + ["POST /api/dr/" + d for d in DR]
    return "<!doctype html><title>CTA-2045 UCM</title><pre>%s</pre>" % "\n".join(routes)


async def put_config(app, req, arg):
    """PUT /api/config: a partial config, nested like the file. Saved at once; engine
    settings and the token apply at once, everything else after a restart."""
    body = _body(req)
    return _json(app.system.change(app, body if body is not None else {}, _fail))


def _fail(e):
    # Config errors are ValueError("key.sub: why") -> 400 naming the field
    msg = str(e)
    field, sep, why = msg.partition(": ")
    raise _Bad(why if sep else msg, field if sep else None)


async def restart(app, req, arg):
    sys_ = app.system
    if sys_ is None or not sys_.can_restart:
        raise _Bad("this board cannot restart itself", None, 409)
    sys_.restart_soon()
    return _json({"restarting": True})


async def setup_page(app, req, arg):
    # www/setup.html beside the page (make deploy puts both there)
    f = app.page_file or "www/"
    try:
        return Response.send_file(
            f[: f.rfind("/") + 1] + "setup.html", content_type="text/html; charset=UTF-8", max_age=0
        )
    except OSError:
        raise _Bad("no set-up page on this board (make deploy puts it in /www)", None, 404)


async def setup(app, req, arg):
    """POST /api/setup {"ssid", "password", "token"}: the access point's set-up form.
    Without a token configured it needs none (first set-up); then the board restarts
    to join the network."""
    body = _body(req)
    if type(body) is not dict:
        raise _Bad("send ssid, password and token", None)
    for k in ("ssid", "password", "token"):
        if type(body.get(k)) is not str:
            raise _Bad("must be a string", k)
    if not body["ssid"]:
        raise _Bad("must not be empty", "ssid")
    if not body["token"] and not app.token_set:
        raise _Bad("choose a token (8 characters or more)", "token")
    changes = {"wifi": {"ssid": body["ssid"], "password": body["password"]}}
    if body["token"]:
        changes["token"] = body["token"]
    out = _system(app).change(app, changes, _fail)
    if app.system.can_restart:
        app.system.restart_soon()
        out["restarting"] = True
    return _json(out)


def _ninebit(app):
    nb = app.system.ninebit if app.system else None
    if nb is None:
        bus = app.system.bus["active"] if app.system else "cta2045"
        raise _Bad("the 9-bit bus is not active (bus: %s)" % bus, None, 409)
    return nb


async def nb_frames(app, req, arg):
    nb = _ninebit(app)
    return _json({"frames": nb.frames(_count(req))})


async def nb_params(app, req, arg):
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


async def nb_send(app, req, arg):
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
