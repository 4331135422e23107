# The host board: the firmware on a PC (Linux, CPython or MicroPython's unix port). The
# RS-485 side is a tty path, a USB adapter or a pseudo-terminal; options come from the
# command line and the environment instead of a config file:
#   main.py --serial PATH [--http-host 127.0.0.1] [--http-port 8080] [--quiet]
#           [--page FILE]                 (the web page; .gz is sent gzip-encoded)
#           [--bus cta2045|ninebit-listen|auto]   (the 9-bit bus: the tty delivers a
#                                         Linux PARMRK capture stream, see tools/ports.py)
#           [--set name=value ...]        (engine settings, e.g. --set heartbeat_ms=10000)
#           [--http-clients N]            (requests handled at once, default 4)
#           [--mqtt HOST[:PORT]]          (Home Assistant over MQTT: lib/ucm/ha.py)
#           [--mqtt-user NAME] [--mqtt-base TOPIC] [--mqtt-prefix homeassistant]
#   UCM_TOKEN=...                         the API token (generated when not set)
#   MQTT_PASSWORD=...                     the broker password (never on the command line)

import os
import sys
import time

NAME = "host"

USAGE = (
    "usage: main.py --serial PATH [--http-host H] [--http-port N] [--quiet] [--page FILE]"
    " [--bus cta2045|ninebit-listen|auto] [--set name=value ...] [--http-clients N]"
    " [--mqtt HOST[:PORT]] [--mqtt-user NAME] [--mqtt-base TOPIC] [--mqtt-prefix PREFIX]"
)
BUSES = ("cta2045", "ninebit-listen", "auto")  # a PC cannot send on the 9-bit bus


def _value(text):
    # a setting's value: int, then true/false, else the text
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text


def options(argv=None):
    """The firmware options from the command line, or raise ValueError with the reason."""
    argv = sys.argv[1:] if argv is None else argv
    o = {
        "serial": None,
        "http_host": "127.0.0.1",
        "http_port": 8080,
        "quiet": False,
        "page": None,
        "bus": "cta2045",
        "settings": {},
        "http_clients": 4,
        "mqtt": None,
        "mqtt_user": None,
        "mqtt_base": "ucm/ucm-host",
        "mqtt_prefix": "homeassistant",
    }
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--quiet":
            o["quiet"] = True
            i += 1
            continue
        if a not in (
            "--serial",
            "--http-host",
            "--http-port",
            "--page",
            "--bus",
            "--set",
            "--http-clients",
            "--mqtt",
            "--mqtt-user",
            "--mqtt-base",
            "--mqtt-prefix",
        ) or i + 1 >= len(argv):
            raise ValueError("bad argument %s\n%s" % (a, USAGE))
        v = argv[i + 1]
        i += 2
        if a == "--serial":
            o["serial"] = v
        elif a == "--page":
            o["page"] = v
        elif a == "--bus":
            if v not in BUSES:
                raise ValueError("--bus: one of %s" % ", ".join(BUSES))
            o["bus"] = v
        elif a == "--http-host":
            o["http_host"] = v
        elif a == "--http-port":
            if not v.isdigit() or not 0 < int(v) < 65536:
                raise ValueError("--http-port: not a port number: " + v)
            o["http_port"] = int(v)
        elif a == "--http-clients":
            if not v.isdigit() or not 1 <= int(v) <= 16:
                raise ValueError("--http-clients: 1..16, not " + v)
            o["http_clients"] = int(v)
        elif a == "--mqtt":
            host, _, port = v.rpartition(":") if ":" in v else (v, "", "1883")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("--mqtt: HOST or HOST:PORT, not " + v)
            o["mqtt"] = (host, int(port))
        elif a in ("--mqtt-base", "--mqtt-prefix"):
            if not v or v.strip("/") != v or "#" in v or "+" in v:
                raise ValueError("%s: a topic without wildcards or leading/trailing '/', not %r" % (a, v))
            o[a[2:].replace("-", "_")] = v
        elif a == "--mqtt-user":
            o["mqtt_user"] = v
        else:
            k, eq, val = v.partition("=")
            if not eq:
                raise ValueError("--set wants name=value, got " + v)
            o["settings"][k] = _value(val)
    if not o["serial"]:
        raise ValueError("--serial PATH is required\n" + USAGE)
    global serial
    serial = o["serial"]
    t = os.getenv("UCM_TOKEN")
    if t is not None and t != "" and not (8 <= len(t) <= 128 and t.strip() == t):
        raise ValueError("UCM_TOKEN: 8..128 characters without surrounding spaces")
    o["token"] = t or token()
    global mqtt
    mqtt = o if o["mqtt"] else None
    return o


def token():
    """A fresh random API token (URL-safe text)."""
    return "".join("%02x" % b for b in os.urandom(16))


serial = None  # the --serial path, set by options()
mqtt = None  # the options when --mqtt is given


def extra_tasks(sup, system):
    """The host board's own tasks (ucm_compose calls this): MQTT with Home Assistant
    discovery when --mqtt is given."""
    if mqtt is None:
        return
    from ucm.ha import Bridge
    from ucm.mqtt import Client

    host, port = mqtt["mqtt"]
    node = mqtt["mqtt_base"].rsplit("/", 1)[-1]
    c = Client(host, port, node, mqtt["mqtt_user"], os.getenv("MQTT_PASSWORD") or None, log=sup.log)
    b = Bridge(system.ucm, c, mqtt["mqtt_base"], node, mqtt["mqtt_prefix"], sup.log, getattr(system, "ninebit", None))
    system.mqtt = c
    sup.add("mqtt", lambda: c.run(b.on_connect))
    sup.add("ha", b.run)


def open_port(cfg=None):
    from port import TtyPort

    return TtyPort(serial)


def open_ninebit(cfg=None, pins=None):
    """The 9-bit bus on a PC: the same tty, which delivers a PARMRK capture stream
    (whoever starts the firmware sets space parity and PARMRK; tools/ports.py)."""
    from port import CapturePort

    return CapturePort(serial)


def unix_time():
    """UTC now in Unix seconds: a PC's clock is set."""
    return int(time.time())


def prepare(argv=None):
    """(config, HTTP host, quiet, page file) for main(), from the command line: a Config
    without a file. ValueError for bad options."""
    from ucm_config import Config

    o = options(argv)
    c = Config(None)
    c.update(
        {"http_port": o["http_port"], "settings": o["settings"], "bus": o["bus"], "http_clients": o["http_clients"]}
    )
    c.data["token"] = o["token"]  # from UCM_TOKEN (8..128 characters, options()), or generated
    c.source = "command line"
    c.error = None
    return c, o["http_host"], o["quiet"], o["page"]


def trace_line(d, data, now, note):
    """The live trace: one line per frame on the wire, seconds since start, direction,
    hex, what it is."""
    from ucm.trace import describe

    arrow = "UCM->SGD" if d == "tx" else "SGD->UCM"
    print("%10.3f %s %-24s %s" % (now / 1000, arrow, bytes(data).hex(), note or describe(data)))
