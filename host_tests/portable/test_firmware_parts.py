# The parts of firmware/ and boards/common that need no hardware, network or event
# loop, run under CPython (pytest) and under MicroPython (mp_run.py): the config store
# (defaults, corrupt file, validation, secrets hidden, atomic save), the Prometheus text,
# the supervisor's stall rule, the RS-485 port's DE order and echo removal.

import json
import os
import sys

from checks import raises

MICROPYTHON = sys.implementation.name == "micropython"

import ucm_config as config  # noqa: E402
import ucm_metrics as metrics  # noqa: E402
import ucm_rs485 as rs485  # noqa: E402
import ucm_supervisor as supervisor  # noqa: E402

if MICROPYTHON:
    _DIR = "/"
else:
    import tempfile

    _DIR = tempfile.mkdtemp(prefix="ucm-parts-")


def _path(name):
    p = _DIR.rstrip("/") + "/" + name
    for q in (p, p + ".tmp"):
        try:
            os.remove(q)
        except OSError:
            pass
    return p


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_config_missing_then_saved_and_loaded():
    p = _path("c1.json")
    c = config.Config(p).load()
    assert c.source == "defaults" and "no " in c.error
    assert c.data["http_port"] == 80 and c.data["wifi"]["ssid"] == ""
    changed = c.update({"wifi": {"ssid": "home", "password": "pw"}, "settings": {"heartbeat_ms": 15000}})
    assert sorted(changed) == ["settings", "wifi"]
    c.save()
    with open(p) as f:
        on_flash = json.load(f)
    assert on_flash == {"wifi": {"ssid": "home", "password": "pw"}, "settings": {"heartbeat_ms": 15000}}
    d = config.Config(p).load()
    assert d.source == "file" and d.error is None and d.data["wifi"]["ssid"] == "home"
    assert d.data["wifi"]["hostname"] == "ucm"  # defaults fill what the file leaves out
    try:
        os.stat(p + ".tmp")
        raise AssertionError("temporary file left behind")
    except OSError:
        pass


def test_config_corrupt_or_not_an_object_gives_defaults():
    p = _path("c2.json")
    for text, why in (('{"wifi": ', "not valid JSON"), ("[1, 2]", "not a JSON object")):
        _write(p, text)
        c = config.Config(p).load()
        assert c.source == "defaults" and why in c.error, (text, c.error)
        assert c.data == config.Config(None).data


def test_config_bad_saved_keys_fall_back_one_by_one():
    # a file saved by an older firmware, or edited by hand: each bad key takes its
    # default and is named; every good key, even beside a bad one, is kept
    p = _path("c2b.json")
    for text, why in (
        ('{"http_port": "80"}', "http_port: must be an integer"),
        ('{"colour": 1}', "colour: unknown key"),
        ('{"settings": {"t_ma_ms": "x"}}', "settings.t_ma_ms: must be an integer"),
        ('{"settings": {"log_size": 0}}', "settings.log_size: must be 1..256"),
        ('{"watchdog_ms": 1}', "watchdog_ms: must be 0 or 4000..8388"),
        ('{"http_port": 70000}', "http_port: must be 1..65535"),
        ('{"pins": {"uart": 99}}', "pins.uart: must be 0..2"),
        ('{"transceiver": "x"}', "transceiver: one of de, auto"),
    ):
        _write(p, text)
        c = config.Config(p).load()
        assert c.source == "file" and why in c.error and "defaults" in c.error, (text, c.error)
        assert c.data == config.Config(None).data, text
    _write(
        p,
        '{"wifi": {"ssid": "home", "password": 5}, "http_port": 8080, "watchdog_ms": 1,'
        ' "settings": {"t_ma_ms": 0, "heartbeat_ms": 30000}, "pins": {"de": 7, "tx": -1}}',
    )
    c = config.Config(p).load()
    assert c.data["wifi"]["ssid"] == "home" and c.data["wifi"]["password"] == ""
    assert c.data["http_port"] == 8080 and c.data["watchdog_ms"] == 8000
    assert c.data["settings"] == {"heartbeat_ms": 30000} and c.data["pins"] == {"de": 7}
    for key in ("wifi.password", "watchdog_ms", "settings.t_ma_ms", "pins.tx"):
        assert key in c.error, (key, c.error)


def test_config_null_restores_a_default():
    c = config.Config(None)
    c.update({"http_port": 8080, "wifi": {"hostname": "heater"}, "settings": {"t_ma_ms": 60, "log_size": 32}})
    assert sorted(c.update({"http_port": None, "wifi": {"hostname": None}})) == ["http_port", "wifi"]
    assert c.data["http_port"] == 80 and c.data["wifi"]["hostname"] == "ucm"
    assert c.update({"settings": {"t_ma_ms": None, "log_size": 32}}) == ["settings"]
    assert c.data["settings"] == {"log_size": 32}
    assert c.update({"settings": None}) == ["settings"] and c.data["settings"] == {}
    assert c.diff() == {}


def test_config_takes_a_complete_temporary_file_when_the_file_is_gone():
    p = _path("c3.json")
    _write(p + ".tmp", '{"wifi": {"ssid": "from-tmp"}}')
    c = config.Config(p).load()
    assert c.source == "file" and c.data["wifi"]["ssid"] == "from-tmp"


def test_config_update_checks_everything_or_changes_nothing():
    c = config.Config(None)
    before = json.dumps(c.data)
    for bad, msg in (
        ({"wifi": {"ssid": 1}}, "wifi.ssid: must be a string"),
        ({"wifi": "home"}, "wifi: must be an object"),
        ({"ap": {"password": "short"}}, "ap.password: must be empty or 8..63 characters"),
        ({"token": "short"}, "token: must be empty or 8..128 characters"),
        ({"token": " padded-token "}, "token: no spaces around it"),
        ({"pins": {"tx": [1]}}, "pins.tx: must be an integer"),
        ({"pins": {"nope": 1}}, "pins.nope: unknown pin"),
        ({"watchdog_ms": -5}, "watchdog_ms: must be 0 or 4000..8388"),
        ({"wifi": {"hostname": "-ucm"}}, "wifi.hostname: letters, digits"),
        ({"wifi": {"hostname": "my ucm"}}, "wifi.hostname: letters, digits"),
        ({"http_clients": 0}, "http_clients: must be 1..16"),
        ({"http_clients": 17}, "http_clients: must be 1..16"),
        ({"settings": {"nope": 1}}, "settings.nope: unknown setting"),
        ({"settings": {"t_ma_ms": 0}}, "settings.t_ma_ms: must be 40..200"),
        ({"wifi": {"ssid": "ok"}, "http_port": "x"}, "http_port: must be an integer"),
    ):
        e = raises(ValueError, c.update, bad)
        assert msg in str(e), (bad, str(e))
    assert json.dumps(c.data) == before
    assert sorted(c.update({"pins": {"de": 5, "led": "LED"}, "token": "a-long-token"})) == ["pins", "token"]
    assert c.update({"token": "a-long-token"}) == []  # same value: nothing changed


def test_config_http_clients_in_range_is_taken():
    c = config.Config(None)
    assert c.update({"http_clients": 1}) == ["http_clients"] and c.data["http_clients"] == 1


def test_heap_figures_and_low_water_mark():
    import ucm_heap as heap

    st = heap.status()
    if st["mem_free"] is None:  # CPython: no heap counters
        assert st == {"mem_free": None, "mem_alloc": None, "mem_free_low": None}
        return
    before = heap.collect()
    junk = [bytearray(64) for _ in range(50)]
    with_junk = heap.sample()
    assert with_junk < before  # the junk is counted
    st = heap.status()
    assert st["mem_free_low"] <= with_junk  # the mark keeps the lowest figure seen
    assert st["mem_alloc"] > 0 and st["mem_free"] > 0 and len(junk) == 50


def test_config_public_hides_every_secret():
    c = config.Config(None, {"ap": {"ssid": "board-ap"}})
    c.update(
        {
            "wifi": {"ssid": "home", "password": "wifi-secret"},
            "ap": {"password": "ap-secret-1"},
            "token": "api-secret-1",
        }
    )
    pub = c.public()
    text = json.dumps(pub)
    for secret in ("wifi-secret", "ap-secret-1", "api-secret-1"):
        assert secret not in text
    assert pub["wifi"]["password_set"] and pub["ap"]["password_set"] and pub["token_set"]
    assert pub["ap"]["ssid"] == "board-ap"  # board defaults over the firmware's
    assert c.data["token"] == "api-secret-1"  # the store itself still has them


def _status():
    from ucm.engine import Engine

    return Engine(None, None, 0).status(5000)


def test_metrics_text_format():
    text = metrics.render(
        _status(),
        {
            "wifi": {"online": True, "drops": 2},
            "mem_free": 12345,
            "mem_alloc": 678,
            "mem_free_low": 9000,
            "tasks": {"engine": {"restarts": 1}, "http": {"restarts": 0}},
        },
    )
    lines = text.split("\n")
    assert lines[-1] == ""  # ends with a newline
    assert "ucm_link_up 0" in lines and 'ucm_link_state{state="down"} 1' in lines
    assert "ucm_uptime_seconds 5" in lines and "ucm_frames_in_total 0" in lines
    assert "# TYPE ucm_frames_in_total counter" in lines
    assert "ucm_wifi_online 1" in lines and "ucm_wifi_drops_total 2" in lines
    assert 'ucm_task_restarts_total{task="engine"} 1' in lines and "ucm_mem_free_bytes 12345" in lines
    assert "ucm_mem_alloc_bytes 678" in lines and "ucm_mem_free_low_bytes 9000" in lines
    assert "".join(metrics.lines(_status(), None)) == metrics.render(_status(), None)  # streamed = whole
    assert "ucm_sgd_op_state" not in "".join(ln for ln in lines if not ln.startswith("#"))  # unknown: no sample
    for line in lines:
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            float(value)
            assert name.startswith("ucm_")
    names = [ln.split()[2] for ln in lines if ln.startswith("# TYPE")]
    assert len(names) == len(set(names))  # each metric declared once


class _Task:
    def __init__(self):
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


def test_supervisor_stall_rule():
    t = [0]
    sup = supervisor.Supervisor(lambda m: None, lambda: t[0], stall_ms=5000)
    n = [0]
    sup.add("engine", None, lambda: n[0])
    spawned = []
    sup._spawn = lambda name: spawned.append(name)
    sup.tasks["engine"]["task"] = task = _Task()
    for _ in range(6):
        t[0] += 1000
        n[0] += 1
        assert sup.check() == []
    t[0] += 6000
    assert sup.check() == ["engine"] and task.cancelled and spawned == ["engine"]
    t[0] += 1000
    assert sup.check() == ["engine"] and spawned == ["engine"]  # restarted only once
    for want in (["engine"], []):
        n[0] += 1
        t[0] += 1000
        assert sup.check() == want
    assert sup.status()["engine"]["restarts"] == 1


class _Pin:
    def __init__(self, log):
        self.v = 0
        self.log = log

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        self.log.append(("de", v))


class _Uart:
    def __init__(self, log):
        self.log = log
        self.inbox = bytearray()

    def write(self, data):
        self.log.append(("write", bytes(data)))

    def flush(self):
        self.log.append(("flush",))

    def any(self):
        return len(self.inbox)

    def readinto(self, buf):
        n = min(len(buf), len(self.inbox))
        buf[:n] = self.inbox[:n]
        self.inbox = self.inbox[n:]
        return n


class _Reader:
    def __init__(self, uart):
        self.u = uart

    async def readinto(self, buf):
        return self.u.readinto(buf)


def _run(coro):
    # these coroutines never wait on anything: one step runs them to the end
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    raise AssertionError("coroutine suspended")


def test_rs485_de_order_and_echo():
    log = []
    uart = _Uart(log)
    port = rs485.Rs485Port(uart, _Pin(log), 19200, reader=_Reader(uart))
    del log[:]
    _run(port.write(b"\x06\x00"))
    assert log == [("de", 1), ("write", b"\x06\x00"), ("flush",), ("de", 0)]
    # auto-direction: the echo of what we sent is dropped, the peer's bytes kept
    port = rs485.Rs485Port(uart, None, 19200, echo=True, reader=_Reader(uart))
    _run(port.write(b"\x08\x01\x00\x02\x01\x3c\x1d\xe4"))
    uart.inbox = bytearray(b"\x08\x01\x00\x02\x01\x3c\x1d\xe4\x06\x00")
    buf = bytearray(32)
    n = _run(port.recv_into(buf))
    assert bytes(buf[:n]) == b"\x06\x00" and port.echo_errors == 0
    assert rs485.rx_buffer(19200, 100) == 192 and rs485.RX_BUFFER >= 192
