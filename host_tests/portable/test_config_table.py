# The range table of every config key and engine setting (firmware/ucm_config.py KEYS,
# lib/ucm/settings.py RANGES), swept key by key: just outside each end is
# refused with the key's name and its range, each end itself is taken, a wrong type is
# refused, and a refused change leaves the config as it was. Runs under CPython and
# under MicroPython (mp_run.py).

import json

from checks import raises, rows

import ucm_config as config
import ucm_config_check as config_check
from ucm.limits import RANGES, check
from ucm.settings import Settings


def _bad(c, change, key):
    before = json.dumps(c.data)
    e = raises(ValueError, c.update, change)
    assert str(e).startswith(key + ": "), (change, str(e))
    assert json.dumps(c.data) == before, change
    return str(e)


def _nest(key, v):
    # "wifi.ssid" -> {"wifi": {"ssid": v}}
    head, _, tail = key.partition(".")
    return {head: {tail: v}} if tail else {head: v}


def _default(key):
    head, _, tail = key.partition(".")
    d = config.DEFAULTS[head]
    return d[tail] if tail else d


def test_every_key_has_a_range_or_is_a_section():
    # every int or str key of the defaults is in the table: none unchecked
    for k in rows(config.DEFAULTS, 10):
        v = config.DEFAULTS[k]
        if type(v) is dict:
            for j in v:
                assert k + "." + j in config_check.KEYS, k + "." + j
        elif k not in ("pins", "settings"):
            assert k in config_check.KEYS, k
    for k in Settings().to_dict():
        if type(getattr(Settings, k)) is int:
            assert k in RANGES, k


def test_every_config_key_refuses_values_outside_its_range():
    c = config.Config(None)
    n = 0
    for key in sorted(rows(config_check.KEYS, 15)):
        r = config_check.KEYS[key]
        if key.startswith("pins."):
            continue  # swept below with the pin names
        if type(r[0]) is str:  # a choice
            _bad(c, _nest(key, "none-of-them"), key)
            for v in r:
                c.update(_nest(key, v))
            _bad(c, _nest(key, 1), key)
            n += 1
            continue
        ref = _default(key)
        lo, hi = r[0], r[1]
        if type(ref) is str:
            too_short, too_long = "a" * (lo - 1) if lo > 1 else None, "a" * (hi + 1)
            msg = _bad(c, _nest(key, too_long), key)
            assert "%d..%d characters" % (lo, hi) in msg, msg
            if too_short is not None and r[2:] != (lo - 1,):
                _bad(c, _nest(key, too_short), key)
            for ok in ("a" * lo, "a" * hi):
                c.update(_nest(key, ok))
                assert c.data == json.loads(json.dumps(c.data))
            _bad(c, _nest(key, 5), key)
        else:
            for v in (lo - 1, hi + 1):
                if r[2:] != (v,):
                    msg = _bad(c, _nest(key, v), key)
                    assert "%d..%d" % (lo, hi) in msg, msg
            for v in (lo, hi) + tuple(r[2:]):
                c.update(_nest(key, v))
            _bad(c, _nest(key, "1"), key)
            _bad(c, _nest(key, True), key)
            _bad(c, _nest(key, 1.5), key)
        n += 1
    assert n == len(config_check.KEYS) - 2


def test_pins_refuse_unknown_names_and_out_of_range_numbers():
    c = config.Config(None)
    for pin in ("uart", "tx", "rx", "de", "led"):
        hi = 2 if pin == "uart" else 48
        _bad(c, {"pins": {pin: -1}}, "pins." + pin)
        _bad(c, {"pins": {pin: hi + 1}}, "pins." + pin)
        c.update({"pins": {pin: hi}})
        assert c.data["pins"] == {pin: hi}
    _bad(c, {"pins": {"uart": "UART0"}}, "pins.uart")
    _bad(c, {"pins": {"led": ""}}, "pins.led")
    c.update({"pins": {"led": "LED"}})
    _bad(c, {"pins": {"sda": 4}}, "pins.sda")


def test_every_setting_refuses_values_outside_its_protocol_window():
    c = config.Config(None)
    n = 0
    for name in sorted(RANGES):
        r = RANGES[name]
        for v in (r[0] - 1, r[1] + 1):
            if r[2:] != (v,):
                msg = _bad(c, {"settings": {name: v}}, "settings." + name)
                assert "%d..%d" % (r[0], r[1]) in msg, msg
                e = raises(ValueError, Settings, **{name: v})  # the engine refuses it too
                assert str(e).startswith(name + ": ")
        for v in (r[0], r[1]) + tuple(r[2:]):
            c.update({"settings": {name: v}})
            assert check(name, v) is None and getattr(Settings(**{name: v}), name) == v
        _bad(c, {"settings": {name: "1"}}, "settings." + name)
        _bad(c, {"settings": {name: False}}, "settings." + name)
        n += 1
    for name in ("app_ack_op_state", "answer_info"):
        _bad(c, {"settings": {name: 1}}, "settings." + name)
        c.update({"settings": {name: True}})
    assert n == len(RANGES)


def test_the_values_that_bricked_a_board_are_refused():
    # each of these was accepted and saved before, and stopped the board at its next boot
    c = config.Config(None)
    for change, key in (
        ({"watchdog_ms": 1}, "watchdog_ms"),
        ({"settings": {"log_size": 2**62}}, "settings.log_size"),
        ({"settings": {"log_size": 0}}, "settings.log_size"),
        ({"settings": {"baud": 0}}, "settings.baud"),
        ({"http_port": 70000}, "http_port"),
        ({"pins": {"uart": 99}}, "pins.uart"),
        ({"settings": {"t_ma_ms": 0}}, "settings.t_ma_ms"),
    ):
        _bad(c, change, key)


def test_settings_update_checks_all_before_it_changes_any():
    s = Settings(t_ma_ms=60)
    raises(ValueError, s.update, {"t_ar_ms": 200, "t_ma_ms": 0})
    assert s.t_ar_ms == Settings.t_ar_ms and s.t_ma_ms == 60
    s.update({"t_ar_ms": 200}, True)  # replace: t_ma_ms back to its default
    assert s.t_ar_ms == 200 and s.t_ma_ms == Settings.t_ma_ms
