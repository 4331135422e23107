# The device's configuration: one JSON file on flash holding what differs from the
# defaults below. Loading never fails: a missing or corrupt file gives the defaults and
# says why (shown in /api/status). Saving is atomic: a temporary file, then os.rename,
# which replaces the old file in one step on LittleFS (the rp2/esp32 default).
#   c = Config("ucm.json"); c.load(); c.data["wifi"]["ssid"]; c.update({...}); c.save()

import json
import os

DEFAULTS = {
    "wifi": {"ssid": "", "password": "", "hostname": "ucm"},
    # access point for set-up when no network is configured or it cannot be joined;
    # password "" = open (WPA2 needs 8..63 characters)
    "ap": {"ssid": "ucm-setup", "password": "", "after_s": 120},
    "token": "",  # the API token; "" until set (then every change is refused)
    "http_port": 80,
    # HTTP requests handled at once; more wait up to 2 s for a slot, then get 503. Each
    # one in progress holds a few KB of heap (README: RAM)
    "http_clients": 4,
    "ntp_host": "pool.ntp.org",
    "transceiver": "de",  # "de": DE/RE on a GPIO; "auto": auto-direction part
    # the protocol on the socket: "cta2045"; "ninebit-listen" (the 9-bit bus, receive
    # only); "ninebit" (listen and send, see the README's warning); "auto" (listen for
    # bus_detect_s, 9-bit when valid frames appear, else CTA-2045)
    "bus": "cta2045",
    "bus_detect_s": 5,
    "ninebit_gap_ms": 10,  # no 9th bit (ESP32): an idle gap this long ends a frame
    "pins": {},  # over the board's pin map: uart, tx, rx, de, led
    "watchdog_ms": 8000,  # machine.WDT timeout; 0 = off (development)
    "settings": {},  # engine settings (README: engine settings table)
}
SECRETS = (("wifi", "password"), ("ap", "password"), (None, "token"))
# Keys applied without a restart; any other change takes effect after one
LIVE = ("settings", "token")
_PINS = ("uart", "tx", "rx", "de", "led")
_RANGES = {"http_clients": (1, 16)}
_CHOICES = {"transceiver": ("de", "auto"), "bus": ("cta2045", "ninebit-listen", "ninebit", "auto")}


def _copy(d):
    return json.loads(json.dumps(d))


def _check(changes, base, path=""):
    # changes must be a dict whose keys exist in base with values of the same type;
    # "pins" and "settings" are checked by check_free
    if type(changes) is not dict:
        raise ValueError("%s: must be an object" % (path[:-1] or "config"))
    for k in changes:
        v = changes[k]
        where = path + k
        if k not in base:
            raise ValueError("%s: unknown key" % where)
        ref = base[k]
        if k in ("pins", "settings") and not path:
            _check_free(k, v)
        elif type(ref) is dict:
            _check(v, ref, where + ".")
        elif type(v) is not type(ref):
            raise ValueError("%s: must be %s" % (where, {int: "an integer", str: "a string"}.get(type(ref), type(ref).__name__)))
        elif k in _CHOICES and v not in _CHOICES[k]:
            raise ValueError("%s: one of %s" % (where, ", ".join(_CHOICES[k])))
        elif type(v) is int and v < 0:
            raise ValueError("%s: must be >= 0" % where)
        elif k in _RANGES and not path and not _RANGES[k][0] <= v <= _RANGES[k][1]:
            raise ValueError("%s: must be %d..%d" % ((where,) + _RANGES[k]))
        elif k == "password" and v and path == "ap." and not 8 <= len(v) <= 63:
            raise ValueError("ap.password: 8..63 characters, or empty for an open access point")
        elif k == "token" and v and (len(v) < 8 or v.strip() != v or len(v) > 128):
            raise ValueError("token: 8..128 characters without surrounding spaces")


def _check_free(k, v):
    if type(v) is not dict:
        raise ValueError("%s: must be an object" % k)
    if k == "pins":
        for p in v:
            if p not in _PINS:
                raise ValueError("pins.%s: unknown pin (%s)" % (p, ", ".join(_PINS)))
            if type(v[p]) not in (int, str):
                raise ValueError("pins.%s: a pin number or name" % p)
    else:
        from ucm.settings import Settings

        try:
            Settings(**v)
        except ValueError as e:
            raise ValueError("settings: %s" % e)


def _merge(dst, src):
    for k in src:
        if type(src[k]) is dict and k not in ("pins", "settings"):
            _merge(dst[k], src[k])
        else:
            dst[k] = src[k]


class Config:
    def __init__(self, path, defaults=None):
        self.path = path
        self.base = _copy(DEFAULTS)
        if defaults:
            _merge(self.base, defaults)
        self.data = _copy(self.base)
        self.source = "defaults"  # "file" once a file was read
        self.error = None  # why the file was not used

    def load(self):
        """Read the file over the defaults. A missing file (a fresh board) or a corrupt
        one leaves the defaults in place; self.error says which. A file left by a save
        cut short (only the temporary copy exists) is taken from the temporary copy."""
        self.data = _copy(self.base)
        self.source = "defaults"
        self.error = None
        for path in (self.path, self.path + ".tmp"):
            try:
                with open(path) as f:
                    d = json.load(f)
            except OSError:
                continue  # missing
            except ValueError as e:
                self.error = "%s is not valid JSON (%s): using the defaults" % (path, e)
                return self
            try:
                _check(d, self.base)
            except ValueError as e:
                self.error = "%s: %s: using the defaults" % (path, e)
                return self
            _merge(self.data, d)
            self.source = "file"
            return self
        self.error = "no %s: using the defaults" % self.path
        return self

    def update(self, changes):
        """Apply a partial config (nested like the file). Raises ValueError("key: why")
        and changes nothing when any part is invalid. Returns the top-level keys that
        changed value."""
        _check(changes, self.base)
        new = _copy(self.data)
        _merge(new, changes)
        changed = [k for k in new if new[k] != self.data[k]]
        self.data = new
        return changed

    def diff(self):
        """What differs from the defaults: what the file holds."""
        out = {}
        for k in self.data:
            v = self.data[k]
            if type(v) is dict and k not in ("pins", "settings"):
                sub = {}
                for j in v:
                    if v[j] != self.base[k][j]:
                        sub[j] = v[j]
                if sub:
                    out[k] = sub
            elif v != self.base[k]:
                out[k] = v
        return out

    def save(self):
        """Write the file atomically: the old file stays whole until the rename."""
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.diff(), f)
        try:
            os.rename(tmp, self.path)
        except OSError:  # a filesystem whose rename does not replace (FAT)
            os.remove(self.path)
            os.rename(tmp, self.path)
        self.source = "file"
        self.error = None

    def public(self):
        """The config without secrets: each secret is replaced by "<name>_set": bool."""
        d = _copy(self.data)
        for sect, key in SECRETS:
            t = d[sect] if sect else d
            t[key + "_set"] = bool(t.pop(key))
        return d

    def state(self):
        return {"source": self.source, "error": self.error, "path": self.path}
