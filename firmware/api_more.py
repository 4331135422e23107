# The API's rarely used routes, loaded on their first request (firmware/api.py names
# them in its route table): the configuration changes, restart, the set-up page and
# form of the access point, the 9-bit bus, and the endpoint index served at / when the
# board has no web page. Kept out of api.py so that their code is not on the heap of a
# board that never uses them.

from api import _Bad, _body, _count, _json, _system
from api_cmd import _DR, REQUIRED, _args, _optional
from microdot import Response

_SETUP = ("<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
          "<title>UCM set-up</title><h1>UCM set-up</h1><form id=f>"
          "<p><label>Wi-Fi network <input name=ssid required></label>"
          "<p><label>Wi-Fi password <input name=password type=password></label>"
          "<p><label>API token (new, 8+ characters) <input name=token type=password></label>"
          "<p><label>Current token (when one is set) <input name=old type=password></label>"
          "<p><button>Save and restart</button></form><p id=r></p><script>"
          "f.onsubmit=async e=>{e.preventDefault();const d=Object.fromEntries(new FormData(f));"
          "const h={'Content-Type':'application/json'};if(d.old)h.Authorization='Bearer '+d.old;delete d.old;"
          "const r=await fetch('/api/setup',{method:'POST',headers:h,body:JSON.stringify(d)});"
          "const j=await r.json();document.getElementById('r').textContent=r.ok?"
          "'Saved: the UCM restarts and joins '+d.ssid:'Refused: '+(j.error||r.status)+(j.field?' ('+j.field+')':'')}"
          "</script>")


def index_page():
    """The endpoint list (GET / on a board without its web page), from the route table."""
    import api

    routes = sorted(api._IMPL) + ["POST /api/dr/" + d[0] for d in _DR]
    return ("<!doctype html><meta charset=utf-8><title>CTA-2045 UCM</title><h1>CTA-2045 UCM</h1><p>JSON API; POST"
            " and PUT need the header <code>Authorization: Bearer &lt;token&gt;</code>.</p><ul>%s</ul>"
            % "".join("<li><code>%s</code>" % r for r in routes))


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
    return Response(_SETUP, 200, {"Content-Type": "text/html; charset=UTF-8"})


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
            raise _Bad("must be milliseconds since start (an integer >= 0)", "since")
        since = int(since)
    from ucm.clock import ticks_diff

    return _json({"now_ms": ticks_diff(nb.clock(), nb.boot), "params": nb.params.rows(since),
                  "changes": nb.params.changes(since),
                  "note": "temp_c_hypothesis is value/512 degrees C: a hypothesis, not a documented fact"})


async def nb_send(app, req, arg):
    """POST /api/ninebit/send {"hex": "90 00 90", "force": false}: only in the ninebit
    personality, only a frame whose checksum holds, a 0x40 broadcast only with force."""
    nb = _ninebit(app)
    args = _args(_body(req), {"hex": (_hexframe, REQUIRED), "force": (_optional(_boolean), False)})
    try:
        await nb.send(args["hex"], args["force"] is True)
    except ValueError as e:
        msg = str(e)
        raise _Bad(msg.partition(": ")[2] or msg, "hex", 409 if "personality" in msg else 400)
    return _json({"sent": "".join("%02x" % b for b in args["hex"]), "warning": app.system.bus.get("warning")})


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


def _boolean(v, field):
    if v is not True and v is not False:
        raise _Bad("must be true or false", field)
    return v
