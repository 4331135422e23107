# The API's read routes (firmware/ucm_api.py routes them here, imported on the first GET):
# the web page, the engine's status, the cached SGD data (with ?refresh=1), the frame
# log, the metrics and the configuration. Each is impl(app, req, arg) -> Response.

from ucm_api import _Bad, _json, _system
from microdot import Response


async def index(app, req, arg):
    f = app.page_file
    if f:
        try:
            # a pre-gzipped page is sent as it is, with Content-Encoding: gzip
            return Response.send_file(
                f, content_type="text/html; charset=UTF-8", compressed=f.endswith(".gz"), max_age=0
            )
        except OSError:
            app.log("api: no page %s" % f)
    page = app.page
    if page is None:
        import ucm_api_admin as api_admin

        page = api_admin.index_page()
    return Response(page, 200, {"Content-Type": "text/html; charset=UTF-8"})


async def status(app, req, arg):
    st = app.ucm.status()
    if app.system:
        st["bus"] = app.system.bus
        if app.system.ninebit:
            st["bus"] = dict(app.system.bus, ninebit=app.system.ninebit.status())
        st["firmware"] = app.system.status()
        st["firmware"]["http"] = {"clients": app.max_clients, "busy": app.busy}
    return _json(st)


async def metrics(app, req, arg):
    import ucm_metrics as m

    return Response(
        m.lines(app.ucm.status(), app.system.status() if app.system else None),
        200,
        {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


async def get_config(app, req, arg):
    c = _system(app).config
    return _json({"config": c.public(), "state": c.state()})


def _flag(req, name):
    v = req.args.get(name, "0")
    if v in ("1", "true"):
        return True
    if v in ("0", "false", ""):
        return False
    raise _Bad("must be 1 or 0", name)


async def cached(app, req, arg):
    """GET /api/sgd/info and /api/sgd/energy: the cached SGD data as {"info": dict or
    null} ({"energy": ...}). null, with 200 rather than 404, when the SGD has not
    answered yet: the resource exists, its value is not known. ?refresh=1 asks the SGD
    first; when it does not accept, the answer is the engine's Result with its status
    (409, 503, 504), as for commands; else the fresh data plus "refresh": the Result."""
    name, kind = arg
    refresh = None
    if _flag(req, "refresh"):
        cmd = __import__("ucm_api_cmd")
        cmd.bus_get(app, req, kind)
        refresh, err = await cmd.call(app, kind, {})
        if err:
            return err
    out = {name: getattr(app.ucm, name)()}
    if refresh is not None:
        out["refresh"] = refresh
    return _json(out)


def _count(req):
    n = req.args.get("n", "50")
    if not (n and len(n) <= 3 and not n.strip("0123456789") and 1 <= int(n) <= 200):
        raise _Bad("must be an integer 1..200", "n")
    return int(n)


async def frames(app, req, arg):
    return _json({"frames": app.ucm.log_rows(_count(req))})
