# The command table (lib/ucm/commands.py): the one argument check of every entry point,
# and the frame each command sends.
from checks import raises, rows
from cta2045.message import decode
from ucm import commands

# kind -> (smallest valid arguments, the message the frame decodes to)
MINIMAL = {
    "shed": ({}, "shed"),
    "load_up": ({"duration_s": 60}, "load_up"),
    "critical_peak": ({"duration_s": None}, "critical_peak"),
    "grid_emergency": ({}, "grid_emergency"),
    "end": ({}, "end_shed"),
    "power_level": ({"percent": 50}, "power_level"),
    "price": ({"relative": 1.5}, "present_price"),
    "grid_guidance": ({"guidance": "neutral"}, "grid_guidance"),
    "advanced_load_up": ({"duration_min": 60, "value": 5, "units": "100Wh"}, "advanced_load_up"),
    "get_setpoint": ({}, "setpoint"),
    "set_setpoint": ({"setpoint": 125, "units": "F"}, "setpoint"),
    "refresh_info": ({}, "get_information"),
    "refresh_energy": ({}, "commodity_read"),
}


def _error(kind, args):
    return str(raises(ValueError, commands.check, kind, args))


def test_every_command_has_a_case_and_builds_its_frame():
    assert sorted(rows(MINIMAL, 13)) == sorted(commands.COMMANDS)
    for kind in MINIMAL:
        args, name = MINIMAL[kind]
        f, extra = commands.frame(kind, commands.check(kind, args), 2)
        m = decode(f)
        assert m.name == name and not m.reply, (kind, m.name)
        assert (extra is not None) == (kind in commands.DR), kind


def test_defaults_filled_and_words_passed_on_as_their_index():
    assert commands.check("shed", None) == {"duration_s": None}
    assert commands.check("power_level", {"percent": 5}) == {"percent": 5, "direction": 0}
    assert commands.check("power_level", {"percent": 5.5, "direction": "produce"}) == {"percent": 5.5, "direction": 1}
    assert commands.check("advanced_load_up", {"duration_min": 0, "value": 65535, "units": "kWh"})["units"] == 3
    assert commands.check("set_setpoint", {"setpoint": 100, "units": "C"}) == {"setpoint": 100, "units": 1}


def test_errors_name_the_field_and_what_it_may_be():
    assert _error("price", {"relative": 9.8}) == "relative: must be a number 0..9.79"
    assert _error("price", {"relative": True}) == "relative: must be a number 0..9.79"
    assert _error("shed", {"duration_s": 2**31}) == "duration_s: must be an integer 0..2147483647"
    assert _error("shed", {"duration_s": 1.0}) == "duration_s: must be an integer 0..2147483647"
    assert _error("power_level", {}) == "percent: missing"
    assert _error("power_level", {"percent": 1, "direction": 1}) == "direction: must be one of absorb, produce"
    assert _error("grid_guidance", {"guidance": "Good"}) == "guidance: must be one of bad, neutral, good"
    assert _error("set_setpoint", {"setpoint": 213, "units": "F"}) == "setpoint: must be 32..212 for units F"
    assert _error("set_setpoint", {"setpoint": 101, "units": "C"}) == "setpoint: must be 0..100 for units C"
    assert _error("nonsense", {}) == "kind: unknown command nonsense"
    # an unknown field is named before a missing one: a misspelt name is the likely cause
    assert _error("price", {"relativ": 1}) == "relativ: unknown field"
    assert _error("end", {"duration_s": 5}) == "duration_s: unknown field"


def test_nan_and_infinities_are_refused():
    for v in (float("nan"), float("inf"), -float("inf")):
        assert _error("power_level", {"percent": v}).startswith("percent: must be a number")


def test_the_duration_sent_is_reported():
    f, extra = commands.frame("shed", commands.check("shed", {"duration_s": 600}))
    assert extra == {"requested_s": 600, "duration_code": 0x11, "encoded_s": 578}
    assert f == bytes.fromhex("080100020111e94e")
