# Home Assistant over MQTT: the water heater as one HA device, through MQTT discovery
# (retained configs under <prefix>/<component>/<object_id>/config), one retained JSON
# state topic that every entity reads with a value template, availability through the
# client's last will, and command topics whose payloads go through the one command table
# (ucm.commands) before anything reaches the heater. A bad payload is logged and answered
# on <base>/error, never sent. Discovery is published on every connect and again when HA
# announces itself (<prefix>/status "online").
#   bridge = Bridge(ucm, client, "ucm/ucm-1a2b", node="ucm-1a2b", log=print)
#   await client.run(bridge.on_connect)  and  await bridge.run()  (the state publisher)
# On a 9-bit bus personality every word of the parameter table (lib/ninebit/params.py)
# is a diagnostic sensor, disabled until the user enables it in HA, its values in the
# retained JSON of <base>/ninebit: watch one change while you change a setting on the
# heater's panel (that is how the 9-bit bus gets decoded).
# Topics under <base>: availability (online/offline), state (JSON), ninebit, error, and
# set/dr (normal, shed, load_up, critical_peak, grid_emergency), set/duration_min
# (the duration of the next event), set/end (any payload), set/setpoint (degrees, in the
# heater's units).

import json

from ucm import __version__
from ucm.clock import sleep_ms, ticks_diff, ticks_ms

DR_OPTIONS = ("normal", "shed", "load_up", "critical_peak", "grid_emergency")
STATE_EVERY_MS = 60000  # the state is published on every change and at least this often
CHECK_MS = 2000  # how often the state is compared with the last one published
DURATION_MAX_MIN = 1440


def _word(k):
    # a 9-bit parameter key (kind << 16 | block << 8 | index) as a JSON key: "w40_2_5"
    return "w%02x_%d_%d" % (k >> 16, (k >> 8) & 0xFF, k & 0xFF)


def _number(what, text):
    try:
        return float(text)
    except ValueError:
        raise ValueError("%s: must be a number" % what)


class Bridge:
    def __init__(self, ucm, client, base, node="ucm", prefix="homeassistant", log=print, ninebit=None):
        self.ucm = ucm
        self.nb = ninebit  # the NineBitBus of a 9-bit personality, or None
        self.c = client
        self.base = base
        self.node = node  # the HA object id prefix and device identifier
        self.prefix = prefix
        self.log = log
        self.duration_min = 30
        self.setpoint = None  # (value, "F"/"C") as last read or set
        self.errors = 0
        self._last = None
        self._at = 0
        self._wake = False
        self._described = False  # discovery published with the heater's GetInformation
        self._asked = False  # the target temperature asked once the link is up
        self._tasks = []  # commands being run
        self._nb_keys = 0  # 9-bit words with a published config
        self._nb_last = None
        client.will = (base + "/availability", b"offline", True, 1)
        client.on_message = self.on_message

    # --- discovery
    def device(self):
        info = self.ucm.info() or {}
        d = {"identifiers": [self.node], "name": "Water heater", "manufacturer": "CTA-2045 SGD"}
        if info.get("model"):
            d["model"] = info["model"]
        if info.get("fw_date"):
            d["sw_version"] = "%s (%d.%d)" % (info["fw_date"], info.get("fw_major", 0), info.get("fw_minor", 0))
        if info.get("serial"):
            d["serial_number"] = info["serial"]
        return d

    def entities(self):
        """[(component, object id, config dict)] of every entity, without the common keys."""
        b = self.base
        st = b + "/state"
        ent = [
            (
                "select",
                "demand_response",
                {
                    "name": "Demand response",
                    "icon": "mdi:transmission-tower",
                    "command_topic": b + "/set/dr",
                    "state_topic": st,
                    "value_template": "{{ value_json.dr }}",
                    "options": list(DR_OPTIONS),
                },
            ),
            (
                "number",
                "event_duration",
                {
                    "name": "Event duration",
                    "icon": "mdi:timer-outline",
                    "command_topic": b + "/set/duration_min",
                    "state_topic": st,
                    "value_template": "{{ value_json.duration_min }}",
                    "min": 0,
                    "max": DURATION_MAX_MIN,
                    "step": 1,
                    "mode": "box",
                    "unit_of_measurement": "min",
                },
            ),
            ("button", "end_event", {"name": "End event", "icon": "mdi:stop", "command_topic": b + "/set/end"}),
        ]
        units = self.setpoint[1] if self.setpoint else "F"
        ent.append(
            (
                "water_heater",
                "water_heater",
                {
                    "name": None,
                    # CTA-2045 has no message that sets a mode: the one mode shown is what
                    # the heater is (its device type), and it cannot be changed from here
                    "modes": [self.mode()],
                    "mode_state_topic": st,
                    "mode_state_template": "{{ value_json.mode }}",
                    "temperature_command_topic": b + "/set/setpoint",
                    "temperature_state_topic": st,
                    "temperature_state_template": "{{ value_json.setpoint }}",
                    "temperature_unit": units,
                    "min_temp": 32 if units == "F" else 0,
                    "max_temp": 180 if units == "F" else 82,
                    "precision": 1.0,
                },
            )
        )
        for oid, name, tpl, extra in (
            ("op_state", "Operational state", "{{ value_json.op_state }}", {"icon": "mdi:water-boiler"}),
            (
                "energy_stored",
                "Energy stored",
                "{{ value_json.energy_stored_wh }}",
                {"unit_of_measurement": "Wh", "device_class": "energy_storage", "state_class": "measurement"},
            ),
            (
                "storage_capacity",
                "Storage capacity",
                "{{ value_json.capacity_wh }}",
                {"unit_of_measurement": "Wh", "device_class": "energy_storage", "state_class": "measurement"},
            ),
            (
                "power",
                "Power",
                "{{ value_json.power_w }}",
                {"unit_of_measurement": "W", "device_class": "power", "state_class": "measurement"},
            ),
            ("last_refusal", "Last refusal", "{{ value_json.last_refusal }}", {"entity_category": "diagnostic"}),
        ):
            cfg = {"name": name, "state_topic": st, "value_template": tpl}
            cfg.update(extra)
            ent.append(("sensor", oid, cfg))
        for k in self._nb_words():
            oid = "nb_" + _word(k)
            ent.append(
                (
                    "sensor",
                    oid,
                    {
                        "name": "9-bit 0x%02x block %d word %d" % (k >> 16, (k >> 8) & 0xFF, k & 0xFF),
                        "state_topic": b + "/ninebit",
                        "value_template": "{{ value_json.%s }}" % _word(k),
                        "entity_category": "diagnostic",
                        "enabled_by_default": False,
                        "icon": "mdi:numeric",
                    },
                )
            )
        for oid, name, key, cls in (
            ("link", "Link", "link", "connectivity"),
            ("override", "Customer override", "override", None),
        ):
            cfg = {"name": name, "state_topic": st, "value_template": "{{ value_json.%s }}" % key}
            if cls:
                cfg["device_class"] = cls
                cfg["entity_category"] = "diagnostic"
            ent.append(("binary_sensor", oid, cfg))
        return ent

    def _nb_words(self):
        return sorted(self.nb.params.values) if self.nb else ()

    def mode(self):
        t = (self.ucm.info() or {}).get("device_type")
        return "heat_pump" if t == 3 else "gas" if t == 1 else "electric"

    def discovery(self):
        """[(topic, config JSON)] of every entity, with the device, availability, origin."""
        dev = self.device()
        out = []
        for comp, oid, cfg in self.entities():
            cfg["unique_id"] = "%s_%s" % (self.node, oid)
            cfg["object_id"] = "%s_%s" % (self.node, oid)
            cfg["availability_topic"] = self.base + "/availability"
            cfg["device"] = dev
            cfg["origin"] = {"name": "ucm firmware", "sw_version": __version__}
            out.append(("%s/%s/%s_%s/config" % (self.prefix, comp, self.node, oid), json.dumps(cfg)))
        return out

    async def on_connect(self, c):
        await c.subscribe(self.base + "/set/#", 1)
        await c.subscribe(self.prefix + "/status", 1)
        await self.publish_discovery()
        await c.publish(self.base + "/availability", "online", retain=True, qos=1)
        self._last = None  # publish the state now
        self._wake = True

    async def publish_discovery(self):
        self._described = self.ucm.info() is not None
        self._nb_keys = len(self._nb_words())
        for topic, cfg in self.discovery():
            await self.c.publish(topic, cfg, retain=True, qos=1)

    # --- state
    def state(self):
        st = self.ucm.status()
        sgd = st.get("sgd") or {}
        ops = sgd.get("op_state")
        ev = st.get("event")
        nak = st.get("last_app_nak")
        e = self.ucm.energy() or {}
        recs = {r["code"]: r for r in e.get("records") or ()}
        cap = recs.get(6, {}).get("cumulative")
        c7 = recs.get(7, {}).get("cumulative")
        stored = None
        if cap is not None and c7 is not None:
            stored = max(0, cap - c7)  # code 7 as the heat still needed (web page: Details)
        return {
            "link": "ON" if st["link"]["state"] == "up" else "OFF",
            "op_state": ops["name"] if ops else None,
            "dr": ev["kind"] if ev and ev.get("kind") in DR_OPTIONS else "normal",
            "duration_min": self.duration_min,
            "override": "ON" if sgd.get("override") else "OFF",
            "energy_stored_wh": stored,
            "capacity_wh": cap,
            "power_w": recs.get(0, {}).get("rate"),
            "last_refusal": "%s: %s" % (nak.get("request"), nak.get("reason")) if nak else "none",
            "setpoint": self.setpoint[0] if self.setpoint else None,
            "mode": self.mode(),
        }

    async def publish_state(self):
        s = self.state()
        self._last = s
        self._at = ticks_ms()
        await self.c.publish(self.base + "/state", json.dumps(s), retain=True, qos=0)

    async def run(self):
        """The state publisher task: on every change, and every STATE_EVERY_MS."""
        while True:
            await sleep_ms(CHECK_MS if not self._wake else 50)
            self._wake = False
            if not self.c.connected:
                continue
            try:
                if not self._asked and self.ucm.status()["link"]["state"] == "up":
                    self._asked = True
                    await self.read_setpoint()
                if not self._described and self.ucm.info() is not None:
                    await self.publish_discovery()  # now with model, version and mode
                if self.nb:
                    if len(self._nb_words()) != self._nb_keys:
                        await self.publish_discovery()  # new words: their sensors
                    v = {}
                    for k in self._nb_words():
                        v[_word(k)] = self.nb.params.values[k][0]
                    if v != self._nb_last:
                        self._nb_last = v
                        await self.c.publish(self.base + "/ninebit", json.dumps(v), retain=True)
                s = self.state()
                if s != self._last or ticks_diff(ticks_ms(), self._at) >= STATE_EVERY_MS:
                    await self.publish_state()
            except Exception as e:  # a lost connection: the client connects again
                self.log("ha: state not published: %s: %s" % (type(e).__name__, e))

    # --- commands
    def on_message(self, topic, payload, retained):
        if topic == self.prefix + "/status":
            if payload == b"online":
                self._spawn(self.publish_discovery())
            return
        if not topic.startswith(self.base + "/set/") or retained:
            return  # a retained command is old: never acted on after a reconnect
        self._spawn(self.command(topic[len(self.base) + 5 :], payload.decode("utf-8", "replace").strip()))

    def _spawn(self, coro):
        # a task per command, kept until done (CPython collects a task nothing refers to)
        import asyncio

        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(coro))

    async def command(self, what, text):
        try:
            if what == "dr":
                if text not in DR_OPTIONS:
                    raise ValueError("dr: must be one of %s" % ", ".join(DR_OPTIONS))
                if text == "normal":
                    r = await self.ucm.call("end", {})
                else:
                    r = await self.ucm.call(text, {"duration_s": self.duration_min * 60 or None})
            elif what == "end":
                r = await self.ucm.call("end", {})
            elif what == "duration_min":
                v = _number(what, text)
                if not 0 <= v <= DURATION_MAX_MIN:
                    raise ValueError("duration_min: must be a number 0..%d" % DURATION_MAX_MIN)
                self.duration_min = int(v)
                self._wake = True
                return
            elif what == "setpoint":
                units = self.setpoint[1] if self.setpoint else "F"
                v = _number(what, text)
                if v != int(v):
                    raise ValueError("setpoint: must be a whole number of degrees")
                r = await self.ucm.call("set_setpoint", {"setpoint": int(v), "units": units})
                if r.get("result") == "reply" and not ((r.get("reply") or {}).get("fields") or {}).get("rc"):
                    self.setpoint = (int(v), units)
            else:
                raise ValueError("%s: not a command topic" % what)
        except ValueError as e:  # the command table's message names the field
            return await self._error(what, text, str(e))
        f = (r.get("reply") or {}).get("fields") or {}
        if r.get("result") not in ("ack", "reply") or f.get("rc"):
            why = r.get("reason") or f.get("rc_name") or r.get("result")
            return await self._error(what, text, "the heater: %s (%s)" % (why, r.get("result")))
        self.log("ha: %s %s: %s" % (what, text, r.get("result")))
        self._wake = True

    async def _error(self, what, text, why):
        self.errors += 1
        self.log("ha: command %s %r refused: %s" % (what, text, why))
        try:
            await self.c.publish(self.base + "/error", json.dumps({"command": what, "payload": text, "error": why}))
        except Exception:
            pass

    async def read_setpoint(self):
        """Ask the heater its target temperature once (for the water_heater entity)."""
        try:
            r = await self.ucm.call("get_setpoint", {})
        except ValueError:
            return
        f = (r.get("reply") or {}).get("fields") or {}
        if r.get("result") == "reply" and not f.get("rc") and "setpoint1" in f:
            self.setpoint = (f["setpoint1"], f.get("temp_units_name") or "F")
