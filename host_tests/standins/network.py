# PC stand-in for MicroPython's `network` module, for host tests only (never deployed):
# a station that joins the networks listed in `air` while `air["up"]` is true, and an
# access point that records its configuration.

STA_IF = 0
AP_IF = 1

air = {"up": True, "networks": {}}  # ssid -> password
_ifaces = {}
hostnames = []


def hostname(name=None):
    if name is not None:
        hostnames.append(name)
    return hostnames[-1] if hostnames else "mpy"


def reset():
    air["up"] = True
    air["networks"] = {}
    _ifaces.clear()


class WLAN:
    def __new__(cls, iface=STA_IF):
        if iface not in _ifaces:
            w = object.__new__(cls)
            w.iface = iface
            w._active = False
            w._joined = None
            w._want = None
            w.cfg = {}
            w.connects = 0
            _ifaces[iface] = w
        return _ifaces[iface]

    def active(self, v=None):
        if v is None:
            return self._active
        self._active = bool(v)

    def connect(self, ssid, password=None):
        # like the radio: it keeps trying to associate until disconnect()
        self.connects += 1
        self._want = (ssid, password)

    def disconnect(self):
        self._joined = None
        self._want = None

    def isconnected(self):
        if not air["up"]:
            self._joined = None
        elif self._joined is None and self._want and air["networks"].get(self._want[0]) == self._want[1]:
            self._joined = self._want[0]
        return self._active and self._joined is not None

    def ifconfig(self):
        ip = "192.168.4.1" if self.iface == AP_IF else "192.168.1.50"
        return (ip, "255.255.255.0", ip.rsplit(".", 1)[0] + ".1", "8.8.8.8")

    def config(self, **kw):
        self.cfg.update(kw)
