# The range of every config key, and the checks that use it: a change (PUT /api/config,
# the set-up form, the host board's options) is checked as a whole, a saved file key by
# key; and the code that loads the file (Config.load) and applies a change (System.change).
# Imported only while a config is loaded, checked or changed (firmware/ucm_config.py,
# ucm_system.py), then dropped from the heap (heap.drop): nothing keeps a reference to it.

import json

from ucm.limits import check as setting, outside

# The range of every key: numbers (low, high) or (low, high, another allowed value);
# strings the same for their length; a tuple of words: the allowed values. Types are
# those of config.DEFAULTS; units are in the names. The engine settings' own table is
# ucm.limits; pins: uart 0..2, the others (pins.gpio) a GPIO number or a name.
KEYS = {
    "wifi.ssid": (0, 32),
    "wifi.password": (0, 64),
    "wifi.hostname": (1, 63),
    "ap.ssid": (1, 32),
    "ap.password": (8, 63, 0),
    "ap.after_s": (0, 86400),
    "token": (8, 128, 0),
    "http_port": (1, 65535),
    "http_clients": (1, 16),
    "http_hosts": (0, 200),
    "ntp_host": (0, 253),
    "transceiver": ("de", "auto"),
    "bus": ("cta2045", "ninebit-listen", "ninebit", "auto"),
    "bus_detect_s": (1, 60),
    "ninebit_gap_ms": (2, 1000),
    "watchdog_ms": (4000, 8388, 0),
    "pins.uart": (0, 2),
    "pins.gpio": (0, 48),
}
_PINS = ("uart", "tx", "rx", "de", "led")


def _why(key, v, ref):
    # why v cannot be the value of key (its default: ref), or None
    if type(v) is not type(ref):
        return "must be " + ("an integer" if type(ref) is int else "a string" if type(ref) is str else "an object")
    r = KEYS.get(key)
    if r is None:
        return None
    if type(r[0]) is str:
        return None if v in r else "one of " + ", ".join(r)
    w = outside(r, len(v) if type(v) is str else v)
    if w:
        return "must be " + (w.replace("0 or", "empty or") + " characters" if type(v) is str else w)
    if key == "token" and v.strip() != v:
        return "no spaces around it"
    if key == "wifi.hostname" and (
        v[0] == "-" or v[-1] == "-" or v.lower().strip("abcdefghijklmnopqrstuvwxyz0123456789-")
    ):
        return "letters, digits and inner '-' only"
    return None


def check(changes, base, path=""):
    # changes must be a dict whose keys exist in base, each value in its range (KEYS);
    # null restores a default; "pins" and "settings" are checked by _check_free
    if type(changes) is not dict:
        raise ValueError("%s: must be an object" % (path[:-1] or "config"))
    for k in changes:
        v = changes[k]
        where = path + k
        if k not in base:
            raise ValueError("%s: unknown key" % where)
        ref = base[k]
        if v is None:
            continue
        if k in ("pins", "settings") and not path:
            _check_free(k, v)
        elif type(ref) is dict:
            check(v, ref, where + ".")
        else:
            why = _why(where, v, ref)
            if why:
                raise ValueError("%s: %s" % (where, why))


def _check_free(k, v):
    if type(v) is not dict:
        raise ValueError("%s: must be an object" % k)

    for p in v:
        if v[p] is None:
            continue
        if k == "settings":
            why = setting(p, v[p])
        elif p not in _PINS:
            why = "unknown pin (%s)" % ", ".join(_PINS)
        elif type(v[p]) is str and p != "uart":
            why = None if 0 < len(v[p]) <= 16 else "a pin name of 1..16 characters"
        else:
            why = _why("pins.uart" if p == "uart" else "pins.gpio", v[p], 0)
        if why:
            raise ValueError("%s.%s: %s" % (k, p, why))


def usable(d, base, bad):
    # The keys of a saved config d that pass check(), one by one (a section's good keys
    # stay when others in it are bad); the rest are reported in bad
    out = {}
    for k in d:
        v = d[k]
        try:
            check({k: v}, base)
            out[k] = v
            continue
        except ValueError as e:
            why = str(e)
        if type(v) is dict and type(base.get(k)) is dict:
            out[k] = {}
            for j in v:
                try:
                    check({k: {j: v[j]}}, base)
                    out[k][j] = v[j]
                except ValueError as e:
                    bad.append(str(e))
        else:
            bad.append(why)
    return out


def load(cfg):
    """Config.load (firmware/ucm_config.py) for the Config cfg."""
    from ucm_config import _copy, _merge

    cfg.data = _copy(cfg.base)
    cfg.source = "defaults"
    cfg.error = None
    for path in (cfg.path, cfg.path + ".tmp"):
        try:
            with open(path) as f:
                d = json.load(f)
        except OSError:
            continue  # missing
        except ValueError as e:
            cfg.error = "%s is not valid JSON (%s): using the defaults" % (path, e)
            return cfg
        if type(d) is not dict:
            cfg.error = "%s is not a JSON object: using the defaults" % path
            return cfg
        bad = []
        _merge(cfg.data, usable(d, cfg.base, bad), cfg.base)
        cfg.source = "file"
        if bad:  # a bad key costs only itself, never a dead board
            cfg.error = "%s: %s: those keys use their defaults" % (path, "; ".join(bad))
        return cfg
    cfg.error = "no %s: using the defaults" % cfg.path
    return cfg


def change(system, app, changes, fail):
    """System.change (firmware/ucm_system.py): apply changes to system.config, save it,
    and apply the engine settings and the token that take effect at once."""
    c = system.config
    old = c.data["settings"]
    try:
        changed = c.update(changes)
    except ValueError as e:
        return fail(e)
    saved = False
    if c.path:
        try:
            c.save()
            saved = True
        except OSError as e:
            system.log("config: cannot save %s: %s" % (c.path, e))
    from ucm_config import LIVE

    later = [k for k in changed if k not in LIVE]
    if "settings" in changed:
        # live, except the settings that size buffers at start: those after a restart
        s = system.ucm.engine.s
        new = dict(c.data["settings"])
        for k in s._RESTART:
            if new.get(k) != old.get(k):
                later.append("settings." + k)
            new[k] = getattr(s, k)
        s.update(new, True)
    if "token" in changed:
        app.set_token(c.data["token"])
    if changed:
        system.log("config: changed %s%s" % (", ".join(changed), "" if saved else " (not saved)"))
    return {"config": c.public(), "changed": changed, "saved": saved, "restart_needed": later}
