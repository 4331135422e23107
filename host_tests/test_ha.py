# Home Assistant over MQTT (lib/ucm/ha.py) end to end: the firmware (host board, under
# MicroPython's unix port where the venv has it) against the simulated heater, with
# --mqtt to a real mosquitto started here, and paho-mqtt as Home Assistant: the
# discovery configs (retained, valid for their platform: required keys, allowed modes
# and classes, one device with the heater's model, origin), the state topic following
# the heater, a command on each command topic reaching the heater, bad payloads answered
# on the error topic and never sent, discovery again on HA's birth message, and
# availability "offline" (the last will) when the firmware dies.

import json
import os
import queue
import signal
import time

import pytest

import rig as rigmod
from test_mqtt import Broker, Watcher

TOKEN = "ha-test-token-5d1c"
BASE = "ucm/ucm-host"
NODE = "ucm-host"
# Home Assistant's MQTT platforms: keys each config must have, and allowed values
WATER_HEATER_MODES = {"off", "eco", "electric", "gas", "heat_pump", "high_demand", "performance"}
SENSOR_CLASSES = {"energy_storage": {"Wh", "kWh", "MWh"}, "power": {"W", "kW"}, None: None}
REQUIRED = {
    "select": ("command_topic", "options"),
    "number": ("command_topic",),
    "button": ("command_topic",),
    "water_heater": ("temperature_command_topic", "modes"),
    "sensor": ("state_topic",),
    "binary_sensor": ("state_topic",),
}
ENTITIES = {
    ("select", "demand_response"),
    ("number", "event_duration"),
    ("button", "end_event"),
    ("water_heater", "water_heater"),
    ("sensor", "op_state"),
    ("sensor", "energy_stored"),
    ("sensor", "storage_capacity"),
    ("sensor", "power"),
    ("sensor", "last_refusal"),
    ("binary_sensor", "link"),
    ("binary_sensor", "override"),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("ha"))
    broker = Broker(tmp)
    ha = Watcher(broker.port)
    ha.last_state = None
    queued = ha.c.on_message

    def on_message(c, u, m):
        if m.topic == BASE + "/state":
            ha.last_state = json.loads(m.payload)
        queued(c, u, m)

    ha.c.on_message = on_message
    ha.c.subscribe("homeassistant/#", 1)
    ha.c.subscribe("ucm/#", 1)
    r = rigmod.Rig(
        os.path.join(tmp, "firmware.log"),
        TOKEN,
        mqtt={"mqtt": "127.0.0.1:%d" % broker.port, "base": BASE},
    )
    try:
        r.wait_up(30)
        yield r, ha, broker
    finally:
        r.close()
        ha.close()
        broker.stop()


def _incoming(ha, timeout):
    """The messages the watcher gets, (topic, payload, retained), for timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            yield ha.q.get(timeout=0.05)
        except queue.Empty:
            pass


def _drain(ha, seconds=0.5):
    return list(_incoming(ha, seconds))


def _state(ha, pred, timeout=20):
    # the state now (the last one published, retained) or the next ones, until pred holds
    last = ha.last_state
    if last is not None and pred(last):
        return last
    for topic, payload, _ in _incoming(ha, timeout):
        if topic == BASE + "/state":
            last = json.loads(payload)
            if pred(last):
                return last
    raise AssertionError("no state like that; last: %r" % (last,))


def _configs(ha, timeout=20):
    """{(component, object id): config} once every entity has a config with the model."""
    got = {}
    for topic, payload, _ in _incoming(ha, timeout):
        parts = topic.split("/")
        if parts[0] == "homeassistant" and parts[-1] == "config":
            got[(parts[1], parts[2][len(NODE) + 1 :])] = json.loads(payload)
            if set(got) == ENTITIES and all(c["device"].get("model") for c in got.values()):
                return got
    raise AssertionError("discovery incomplete: %s" % sorted(got))


def test_table_not_empty():
    assert len(ENTITIES) == 11 and set(c for c, _ in ENTITIES) == set(REQUIRED)


def test_discovery_configs_are_valid_and_retained(setup):
    r, ha, broker = setup
    cfgs = _configs(ha)
    ids = set()
    for (comp, oid), c in cfgs.items():
        for k in REQUIRED[comp]:
            assert c.get(k), (comp, oid, k)
        assert c["unique_id"] == "%s_%s" % (NODE, oid) and c["unique_id"] not in ids
        ids.add(c["unique_id"])
        assert c["availability_topic"] == BASE + "/availability"
        assert c["origin"]["name"] and c["origin"]["sw_version"]
        dev = c["device"]
        assert dev["identifiers"] == [NODE] and dev["model"] == "HPWH-SIM-50" and dev["sw_version"]
        for k in ("command_topic", "state_topic", "temperature_command_topic"):
            if k in c:
                assert c[k].startswith(BASE + "/") and "#" not in c[k] and "+" not in c[k]
        if comp == "sensor":
            unit = SENSOR_CLASSES[c.get("device_class")]
            assert unit is None or c["unit_of_measurement"] in unit, c
        if comp == "binary_sensor" and "device_class" in c:
            assert c["device_class"] == "connectivity"
    sel = cfgs[("select", "demand_response")]
    assert sel["options"] == ["normal", "shed", "load_up", "critical_peak", "grid_emergency"]
    num = cfgs[("number", "event_duration")]
    assert num["min"] < num["max"] and num["step"] > 0 and num["mode"] in ("auto", "box", "slider")
    wh = cfgs[("water_heater", "water_heater")]
    assert set(wh["modes"]) <= WATER_HEATER_MODES and wh["modes"] == ["heat_pump"]  # the sim is a heat pump
    assert wh["temperature_unit"] in ("F", "C") and wh["min_temp"] < wh["max_temp"]
    # retained: a client that comes later (Home Assistant after a restart) gets them all
    late = Watcher(broker.port)
    try:
        late.c.subscribe("homeassistant/#", 1)
        assert set(_configs(late)) == ENTITIES
        late.c.subscribe(BASE + "/availability", 1)
        assert late.wait(BASE + "/availability", "online")[2] is True
    finally:
        late.close()


def test_state_follows_and_commands_reach_the_heater(setup):
    r, ha, _ = setup
    st = _state(ha, lambda s: s["link"] == "ON" and s["capacity_wh"])
    assert st["dr"] == "normal" and st["override"] == "OFF" and st["op_state"]
    assert 0 <= st["energy_stored_wh"] <= st["capacity_wh"] == 12000
    # the event duration, then a shed: the heater gets 5 minutes (4:48 as encoded)
    ha.send(BASE + "/set/duration_min", "5")
    _state(ha, lambda s: s["duration_min"] == 5)
    ha.send(BASE + "/set/dr", "shed")
    st = _state(ha, lambda s: s["dr"] == "shed")
    ev = r.status()["event"]
    assert ev["kind"] == "shed" and ev["encoded_s"] == 288
    r.wait(lambda: r.status()["sgd"]["op_state"]["name"] in ("running_curtailed", "idle_curtailed"), 20, "curtailed")
    _state(ha, lambda s: s["op_state"] in ("running_curtailed", "idle_curtailed"))
    # the button ends it
    ha.send(BASE + "/set/end", "PRESS")
    _state(ha, lambda s: s["dr"] == "normal")
    assert r.status()["event"] is None
    # the select's "normal" ends an event too; a load up first
    ha.send(BASE + "/set/dr", "load_up")
    _state(ha, lambda s: s["dr"] == "load_up")
    ha.send(BASE + "/set/dr", "normal")
    _state(ha, lambda s: s["dr"] == "normal")
    # the water heater's target temperature
    ha.send(BASE + "/set/setpoint", "118")
    _state(ha, lambda s: s["setpoint"] == 118)
    assert r.do(lambda: r.sim.setpoint_f) == 118
    ha.send(BASE + "/set/setpoint", "125")
    _state(ha, lambda s: s["setpoint"] == 125)


BAD = (
    ("dr", "boil", "dr: must be one of normal, shed, load_up, critical_peak, grid_emergency"),
    ("duration_min", "abc", "duration_min: must be a number"),
    ("duration_min", "5000", "duration_min: must be a number 0..1440"),
    ("setpoint", "300", "setpoint: must be 32..212 for units F"),
    ("setpoint", "120.5", "setpoint: must be a whole number of degrees"),
    ("volume", "11", "volume: not a command topic"),
)


def test_bad_table_not_empty():
    assert len(BAD) >= 6


def test_bad_payloads_are_answered_and_never_sent(setup):
    r, ha, _ = setup
    _state(ha, lambda s: s["link"] == "ON")
    before = r.api("GET", "/api/log?n=64")[1]["frames"]
    t0 = max(f["t_ms"] for f in before)
    for what, payload, why in BAD:
        ha.send(BASE + "/set/" + what, payload)
        want = {"command": what, "payload": payload, "error": why}
        answers = (json.loads(t) for topic, t, _ in _incoming(ha, 15) if topic == BASE + "/error")
        assert want in answers, "no error answer for %s %r" % (what, payload)
        assert "ha: command %s %r refused: %s" % (what, payload, why) in r.output()
    # only the engine's own polls went to the heater meanwhile: no command frame
    after = [f for f in r.api("GET", "/api/log?n=64")[1]["frames"] if f["t_ms"] > t0 and f["dir"] == "tx"]
    sent = {(f.get("msg") or {}).get("name") for f in after}
    assert not sent & {"shed", "end_shed", "load_up", "critical_peak", "grid_emergency", "setpoint"}, sent
    assert r.do(lambda: r.sim.setpoint_f) == 125


def test_discovery_again_on_ha_birth(setup):
    r, ha, _ = setup
    _drain(ha)
    ha.send("homeassistant/status", "online")
    assert set(_configs(ha)) == ENTITIES


def test_availability_offline_when_the_firmware_dies(setup):
    r, ha, broker = setup
    r.proc.send_signal(signal.SIGKILL)
    r.proc.wait(10)
    assert ha.wait(BASE + "/availability", "offline", timeout=20)


# --- the bridge in this process: a recording client and an engine stand-in that checks
# commands with the real command table (ucm.commands), as Engine.submit does


class _Client:
    def __init__(self):
        self.published = []
        self.subscribed = []
        self.connected = True
        self.will = self.on_message = None

    async def publish(self, topic, payload, retain=False, qos=0):
        self.published.append((topic, payload, retain, qos))

    async def subscribe(self, topic, qos=0):
        self.subscribed.append(topic)


class _Ucm:
    def __init__(self):
        self.calls = []
        self.link = "up"

    def status(self):
        return {
            "link": {"state": self.link},
            "sgd": {"op_state": {"name": "idle_normal", "code": 0}, "override": True},
            "event": {"kind": "shed", "remaining_s": 60},
            "last_app_nak": {"request": "load_up", "reason": "customer_override"},
        }

    def info(self):
        fw = {"fw_date": "2024-05-12", "fw_major": 1, "fw_minor": 3}
        return dict(fw, model="HPWH-X", serial="S1", device_type=2)

    def energy(self):
        recs = [{"code": 0, "rate": 450, "cumulative": 1}, {"code": 6, "cumulative": 10000}]
        recs.append({"code": 7, "cumulative": 2500})
        return {"records": recs}

    async def call(self, kind, args):
        from ucm.commands import check

        check(kind, args)  # ValueError naming the field, as the engine raises it
        self.calls.append((kind, args))
        if kind == "get_setpoint":
            return {"result": "reply", "reply": {"fields": {"rc": 0, "setpoint1": 50, "temp_units_name": "C"}}}
        return {"result": "reply" if "setpoint" in kind else "ack"}


def test_bridge_in_process():
    import asyncio

    from ucm.ha import Bridge

    c, u = _Client(), _Ucm()
    b = Bridge(u, c, "ucm/x", node="x", log=lambda s: None)
    assert c.will == ("ucm/x/availability", b"offline", True, 1) and c.on_message == b.on_message

    async def run():
        await b.read_setpoint()
        await b.on_connect(c)
        await b.publish_state()
        for topic, text in (("set/duration_min", "12"), ("set/dr", "critical_peak"), ("set/setpoint", "55")):
            await b.command(topic[4:], text)
        await b.command("dr", "normal")
        await b.command("setpoint", "120")  # over 100 C
        await b.command("dr", "heat")
        b.on_message("ucm/x/set/dr", b"shed", True)  # retained: ignored
        await asyncio.sleep(0)

    asyncio.run(run())
    assert set(c.subscribed) == {"ucm/x/set/#", "homeassistant/status"}
    configs = [(t, json.loads(p)) for t, p, r, q in c.published if t.endswith("/config")]
    assert len(configs) == len(ENTITIES) and all(r for t, p, r, q in c.published if t.endswith("/config"))
    wh = dict(configs)["homeassistant/water_heater/x_water_heater/config"]
    assert wh["modes"] == ["electric"] and wh["temperature_unit"] == "C" and wh["max_temp"] == 82
    assert wh["device"]["model"] == "HPWH-X" and wh["device"]["sw_version"] == "2024-05-12 (1.3)"
    state = json.loads([p for t, p, r, q in c.published if t == "ucm/x/state"][-1])
    assert state["energy_stored_wh"] == 7500 and state["capacity_wh"] == 10000 and state["power_w"] == 450
    assert state["dr"] == "shed" and state["override"] == "ON" and state["link"] == "ON" and state["setpoint"] == 50
    assert state["last_refusal"] == "load_up: customer_override"
    assert u.calls == [
        ("get_setpoint", {}),
        ("critical_peak", {"duration_s": 720}),
        ("set_setpoint", {"setpoint": 55, "units": "C"}),
        ("end", {}),
    ]
    assert b.duration_min == 12 and b.setpoint == (55, "C")
    errors = [json.loads(p) for t, p, r, q in c.published if t == "ucm/x/error"]
    assert [e["error"] for e in errors] == [
        "setpoint: must be 0..100 for units C",
        "dr: must be one of normal, shed, load_up, critical_peak, grid_emergency",
    ]
    assert b.errors == 2
    u.link = "down"
    assert json.loads(json.dumps(b.state()))["link"] == "OFF"


def test_host_board_mqtt_options_and_tasks(monkeypatch):
    import importlib.util

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("host_board", os.path.join(root, "boards", "host", "ucm_board.py"))
    hb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hb)
    o = hb.options(["--serial", "/dev/null", "--mqtt", "broker.lan", "--mqtt-user", "u", "--mqtt-base", "ucm/attic"])
    assert o["mqtt"] == ("broker.lan", 1883) and o["mqtt_user"] == "u" and o["mqtt_base"] == "ucm/attic"
    assert hb.options(["--serial", "x", "--mqtt", "10.0.0.2:8883"])["mqtt"] == ("10.0.0.2", 8883)
    for bad, why in (
        (["--mqtt", "host:99999"], "--mqtt: HOST or HOST:PORT"),
        (["--mqtt", ":1883"], "--mqtt: HOST or HOST:PORT"),
        (["--mqtt-base", "ucm/#"], "--mqtt-base: a topic without wildcards"),
        (["--mqtt-prefix", "/ha"], "--mqtt-prefix: a topic without wildcards"),
    ):
        with pytest.raises(ValueError, match=why):
            hb.options(["--serial", "x"] + bad)
    # --mqtt adds the client and the bridge to the supervisor, the password from the env
    monkeypatch.setenv("MQTT_PASSWORD", "pw-from-env")
    hb.options(["--serial", "x", "--mqtt", "broker.lan:1884", "--mqtt-user", "u", "--mqtt-base", "ucm/attic"])

    class Sup:
        log = staticmethod(lambda s: None)
        added = []

        def add(self, name, factory, progress=None, fatal=False):
            self.added.append(name)

    class System:
        ucm = _Ucm()

    sup, system = Sup(), System()
    hb.extra_tasks(sup, system)
    assert sup.added == ["mqtt", "ha"]
    c = system.mqtt
    assert (c.host, c.port, c.client_id, c.user, c.password) == ("broker.lan", 1884, "attic", "u", "pw-from-env")
    assert c.will[0] == "ucm/attic/availability"
    hb.options(["--serial", "x"])  # without --mqtt: nothing added
    sup.added = []
    hb.extra_tasks(sup, System())
    assert sup.added == []


def test_ninebit_words_as_disabled_diagnostic_sensors(tmp_path):
    # the 9-bit personality (ninebit-listen) against the 9-bit simulator: every word of
    # the parameter table gets a sensor, disabled by default, its value in <base>/ninebit
    broker = Broker(str(tmp_path))
    ha = Watcher(broker.port)
    ha.c.subscribe("homeassistant/sensor/#", 1)
    ha.c.subscribe(BASE + "/ninebit", 1)
    r = rigmod.Rig(
        str(tmp_path / "firmware.log"),
        TOKEN,
        bus="ninebit-listen",
        heater="ninebit",
        mqtt={"mqtt": "127.0.0.1:%d" % broker.port, "base": BASE},
    )
    try:
        rows = r.wait(lambda: r.api("GET", "/api/ninebit/params")[1]["params"], 30, "9-bit words")
        configs, values = {}, None
        for topic, payload, _ in _incoming(ha, 30):
            if topic.endswith("/config") and "_nb_" in topic:
                configs[topic] = json.loads(payload)
            elif topic == BASE + "/ninebit":
                values = json.loads(payload)
            if values and len(configs) >= len(rows):
                break
        assert len(configs) >= len(rows) > 0, (len(configs), len(rows))
        for c in configs.values():
            assert c["enabled_by_default"] is False and c["entity_category"] == "diagnostic"
            assert c["state_topic"] == BASE + "/ninebit" and c["name"].startswith("9-bit 0x")
            key = c["value_template"].split("value_json.")[1].split()[0]
            assert key in values, (key, sorted(values))
        rows = r.api("GET", "/api/ninebit/params")[1]["params"]
        for row in rows:
            key = "w%s_%d_%d" % (row["kind"][2:], row["block"], row["index"])
            assert key in values and isinstance(values[key], int)
    finally:
        r.close()
        ha.close()
        broker.stop()
