# The API's administration routes, loaded on their first request (firmware/ucm_api.py names
# them in its route table): the configuration changes, restart, the set-up page and
# form of the access point, and the endpoint index served at / when the board has no web
# page. Kept out of the other modules so that their code is not on the heap of a board
# that never uses them.

from ucm_api import _Bad, _json, _system
from ucm_api_cmd import DR
from ucm_api_cmd import body as _body
from microdot import Response


def index_page():
    """The endpoint list (GET / on a board without its web page), from the route table."""
    import ucm_api as api

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
