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


def _drain(ha, seconds=0.5):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            out.append(ha.q.get(timeout=0.05))
        except Exception:
            pass
    return out


def _state(ha, pred, timeout=20):
    # the state now (the last one published, retained) or the next ones, until pred holds
    last = ha.last_state
    if last is not None and pred(last):
        return last
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            topic, payload, _ = ha.q.get(timeout=0.2)
        except Exception:
            continue
        if topic == BASE + "/state":
            last = json.loads(payload)
            if pred(last):
                return last
    raise AssertionError("no state like that; last: %r" % (last,))


def _configs(ha, timeout=20):
    """{(component, object id): config} once every entity has a config with the model."""
    got = {}
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            topic, payload, retained = ha.q.get(timeout=0.2)
        except Exception:
            continue
        parts = topic.split("/")
        if parts[0] == "homeassistant" and parts[-1] == "config":
            cfg = json.loads(payload)
            got[(parts[1], parts[2][len(NODE) + 1 :])] = cfg
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
        end = time.monotonic() + 15
        while True:
            assert time.monotonic() < end, "no error answer for %s %r" % (what, payload)
            try:
                topic, text, _ = ha.q.get(timeout=0.2)
            except Exception:
                continue
            if topic == BASE + "/error" and json.loads(text) == want:
                break
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
