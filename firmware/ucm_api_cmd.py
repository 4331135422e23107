# The API's commands, loaded on the first one (firmware/ucm_api.py routes them here). A
# command's JSON body goes to the engine as it is: ucm.commands checks it (a ValueError
# naming the field, answered 400), the same check as for every other entry point. A
# board whose web page is only watched never has this code on its heap.

from ucm_api import _body

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
    return await app.command(name, _body(req))


async def get_setpoint(app, req, arg):
    app.bus_get(req, "setpoint")
    return await app.command("get_setpoint", {})


async def put_setpoint(app, req, arg):
    return await app.command("set_setpoint", _body(req))
