# The device's configuration: one JSON file on flash holding what differs from the defaults
# below. Loading never fails: a missing or corrupt file gives the defaults and says why (shown
# in /api/status); a bad key in it takes its default alone. Saving is atomic: a temporary
# file, then os.rename, which replaces the old file in one step on LittleFS (the rp2/esp32
# default).
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
    # names this board answers to besides its IP addresses, wifi.hostname(.local) and
    # localhost, comma-separated (e.g. a router's DNS name "ucm.fritz.box"); "*" = any
    "http_hosts": "",
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
# Keys applied without a restart; any other change takes effect after one (and the
# engine settings named in ucm.settings.Settings._RESTART). Each key's range is in
# ucm_config_check.py, imported only while a config is loaded or checked.
LIVE = ("settings", "token")


def _copy(d):
    return json.loads(json.dumps(d))


def _merge(dst, src, base):
    # src over dst; null puts base's value back; pins and settings are replaced whole
    for k in src:
        v = src[k]
        if v is None:
            dst[k] = _copy(base[k])
        elif type(v) is dict and k not in ("pins", "settings"):
            _merge(dst[k], v, base[k])
        elif type(v) is dict:
            dst[k] = {j: v[j] for j in v if v[j] is not None}
        else:
            dst[k] = v


class Config:
    def __init__(self, path, defaults=None):
        self.path = path
        self.base = _copy(DEFAULTS)
        if defaults:
            _merge(self.base, defaults, self.base)
        self.data = _copy(self.base)
        self.source = "defaults"  # "file" once a file was read
        self.error = None  # why the file was not used

    def load(self):
        """Read the file over the defaults. A missing file (a fresh board) or a corrupt
        one leaves the defaults in place; self.error says which. A file left by a save
        cut short (only the temporary copy exists) is taken from the temporary copy.
        Returns self. (The code is in ucm_config_check: it runs once, at start-up.)"""
        from ucm_config_check import load

        return load(self)

    def update(self, changes):
        """Apply a partial config (nested like the file; null = back to the default;
        pins and settings are replaced whole). Raises ValueError("key: why") and changes
        nothing when any part is invalid. Returns the top-level keys that
        changed value."""
        from ucm_config_check import check

        check(changes, self.base)
        new = _copy(self.data)
        _merge(new, changes, self.base)
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
