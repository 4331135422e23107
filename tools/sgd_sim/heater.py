# The heater model of the simulated SGD: its state and status, the tank's energy over
# time, and its answers to Basic DR (PROTOCOL.md section 3), data-link (2.6) and
# Intermediate DR (4) messages. A part of SgdSim (sim.py).


from cta2045 import basic
from cta2045.message import encode

from sgd_sim.common import (
    FEATURE_OF,
    OVERRIDE_OP1,
    APP_ACKED,
    CAP_ALU,
    CURTAIL,
    DEVICE_TYPE_HPWH,
    EPOCH_2000,
    EVENTS,
    HEIGHTEN,
    IDLE_CURTAILED,
    IDLE_HEIGHTENED,
    IDLE_NORMAL,
    IDLE_OPTED_OUT,
    REQUEST_FRAMES,
    RUNNING_CURTAILED,
    RUNNING_HEIGHTENED,
    RUNNING_NORMAL,
    RUNNING_OPTED_OUT,
    STATE_NAMES,
    _Request,
)


class Heater:
    """SgdSim's tank, operational state and message handlers."""

    # --- observability ------------------------------------------------------------------

    @property
    def t0_ms(self):
        """The time of the first feed/poll (None before it)."""
        return self._t0

    def state(self):
        """The operational state code (PROTOCOL.md section 3.2)."""
        run = self.heating is not None
        kind = self.event["kind"] if self.event else None
        if self.override:
            return RUNNING_OPTED_OUT if run else IDLE_OPTED_OUT
        if kind in HEIGHTEN:
            return RUNNING_HEIGHTENED if run else IDLE_HEIGHTENED
        if kind is not None:
            return RUNNING_CURTAILED if run else IDLE_CURTAILED
        return RUNNING_NORMAL if run else IDLE_NORMAL

    def state_name(self):
        return STATE_NAMES[self.state()]

    def capacity(self):
        """Stored energy of a full tank at the present setpoint (Wh)."""
        return self._wh_per_f * (self.setpoint_f - self.inlet_f)

    def target_wh(self):
        """What the heater heats to: a full tank, plus the extra of a load up."""
        ev = self.event
        extra = ev["extra_wh"] if ev is not None and ev["kind"] in HEIGHTEN and not self.override else 0
        return self.capacity() + extra

    def take_wh(self):
        """Energy still needed to reach the present target (negative when above it)."""
        return self.target_wh() - self.stored_wh

    def temperature_f(self):
        """Mean tank temperature, from the stored energy."""
        return self.inlet_f + self.stored_wh / self._wh_per_f

    def power_w(self):
        return {"heat_pump": self.heat_pump_w, "element": self.element_w}.get(self.heating, 0)

    def status(self):
        """A JSON-able snapshot."""
        now = self._now if self._now is not None else 0
        ev = self.event
        event = None
        if ev is not None:
            event = {
                "kind": ev["kind"],
                "code": ev["code"],
                "duration_s": ev["duration_s"],
                "elapsed_s": (now - ev["start"]) // 1000,
                "remaining_s": None if ev["end"] is None else max(0, ev["end"] - now) // 1000,
            }
            if ev["kind"] == "advanced_load_up":
                event["extra_wh"] = ev["extra_wh"]

        def age(t):
            return None if t is None else round((now - t) / 1000, 3)

        return {
            "t_s": 0 if self._t0 is None else round((now - self._t0) / 1000, 3),
            "state": self.state(),
            "state_name": self.state_name(),
            "override": self.override,
            "event": event,
            "silent": self._is_silent(now),
            "rebooting": self._reboot_up is not None,
            "tank": {
                "setpoint_f": self.setpoint_f,
                "temperature_f": round(self.temperature_f(), 1),
                "capacity_wh": round(self.capacity()),
                "stored_wh": round(self.stored_wh),
                "take_wh": round(self.take_wh()),
                "heating": self.heating or "off",
                "power_w": self.power_w(),
                "energy_wh": round(self.energy_wh, 1),
            },
            "ucm": {
                "types": dict(self.ucm_types),
                "max_payload_code": self.ucm_max_payload_code,
                "comm_status": self.comm_status,
                "comm_status_age_s": age(self.comm_status_ms),
                "utc": self.ucm_utc,
                "settings": dict(self.ucm_values),
            },
            "discovery": {
                "bursts": self.counters["discovery_bursts"],
                "answered": self._last_burst_answered,
                "next_in_s": None
                if self._next_discovery is None
                else round(max(0, self._next_discovery - now) / 1000, 3),
            },
            "intermediate": self.intermediate,
            "features": sorted(self.features),
            "pending_requests": len(self._requests)
            + len(self._awaiting)
            + (self._tx is not None and not self._tx[1].reply),
            "counters": dict(sorted(self.counters.items())),
            "naks_in": {"%02x" % k: v for k, v in sorted(self.naks_in.items())},
            "naks_out": {"%02x" % k: v for k, v in sorted(self.naks_out.items())},
        }

    # --- time, timers and the tank model -----------------------------------------------

    def _tick(self, now):
        if self._t0 is None:
            self._t0 = self._now = now
            self._boot(now)
            self._update_heating()
            deferred, self._deferred = self._deferred, []
            for f in deferred:
                f()
        if now < self._now:
            now = self._now  # the clock never runs backwards here
        self._advance(now)
        if self._reboot_up is not None and now >= self._reboot_up:
            self._after_reboot(now)
        if self._silent_until is not None and now >= self._silent_until:
            self._silent_until = None
        ev = self.event
        if ev is not None and self.comm_loss_cancel_s and now - self._comm_ref(ev) >= self.comm_loss_cancel_s * 1000:
            # PROTOCOL.md section 3.4: EPRI's simulated SGD cancels after 300 s without comm status
            self.counters["comm_loss_cancels"] += 1
            self.ucm_values.pop("grid_guidance", None)
            self._end_event()
        if not self._is_silent(now) and self.reader.partial_age(now) >= self.t_ml_ms:
            self.reader.expire()  # -> EV_TIMEOUT -> NAK 05 (PROTOCOL.md section 2.3)
        for r in list(self._awaiting):
            if now >= r.deadline:
                self._awaiting.remove(r)
                self._finish(r, now, "timeout")
        if self._next_discovery is not None and now >= self._next_discovery:
            self._next_discovery = None
            if self.discovery_ms and self._reboot_up is None:
                self._start_burst(now)
        if self._next_utc is not None and now >= self._next_utc:
            self._next_utc = now + self.utc_query_ms if self.utc_query_ms else None
            busy = any(r.kind == "get_utc" for r in self._pending_requests())
            wanted = "utc" in self.features and self.intermediate and self.ucm_types.get("intermediate_dr")
            if wanted and not busy and self._reboot_up is None:
                self._queue(_Request("get_utc", REQUEST_FRAMES["get_utc"], "utc"))
        return now

    def _advance(self, now):
        # Integrate the tank in steps of at most 1 s, ending events and drawing water at
        # their exact times.
        while True:
            ev = self.event
            if ev is not None and ev["end"] is not None and ev["end"] <= self._now:
                self.counters["events_expired"] += 1
                self._end_event()
                ev = None
            if self._next_draw is not None and self._next_draw <= self._now:
                self.draw(self._draw_rng.uniform(200, 1500))
                self._schedule_draw(self._now)
            if self._now >= now:
                break
            end = min(now, self._now + 1000)
            if ev is not None and ev["end"] is not None:
                end = min(end, ev["end"])
            if self._next_draw is not None:
                end = min(end, self._next_draw)
            self._integrate(end - self._now)
            self._now = end

    def _integrate(self, dt_ms):
        self._update_heating()
        h = dt_ms / 3600000.0
        heat = {"heat_pump": self.heat_pump_w * self.heat_pump_cop, "element": self.element_w}.get(self.heating, 0)
        self.stored_wh = max(0.0, self.stored_wh + (heat - (self.standby_w if self.stored_wh > 0 else 0)) * h)
        self.energy_wh += self.power_w() * h

    def _update_heating(self):
        # Thermostat with hysteresis: start beyond heat_start_wh of take (right away while
        # heightened), stop at the target; while curtailed only when the take is very large.
        take = self.take_wh()
        cap = self.capacity()
        kind = None if self.event is None or self.override else self.event["kind"]
        if self.heating is not None:
            on = take > 0
        else:
            on = take > (0 if kind in HEIGHTEN else self.heat_start_wh)
        if on and kind in CURTAIL and take <= self.curtail_limit_fraction * cap:
            on = False
        self.heating = None if not on else "element" if take > self.element_fraction * cap else "heat_pump"

    def _schedule_draw(self, now):
        rate = self.draws_per_hour
        self._next_draw = None if not rate else now + int(self._draw_rng.expovariate(rate) * 3600000) + 1

    def _comm_ref(self, ev):
        return max(ev["start"], self.comm_status_ms if self.comm_status_ms is not None else self._t0)

    def _is_silent(self, now):
        return self._reboot_up is not None or (self._silent_until is not None and now < self._silent_until)

    # --- Basic DR, PROTOCOL.md section 3 ------------------------------------------------------

    def _basic(self, msg, now):
        n, op2 = msg.name, msg.op2
        if n == "app_ack" or n == "app_nak":  # the UCM's App ACK / NAK: link ACK only
            self._ack(now)
            if n == "app_ack":
                self.counters["app_acks_in"] += 1
                if op2 == OVERRIDE_OP1 and self._answer("app_ack", now, "app_ack"):
                    return
                self.counters["unexpected_app_acks"] += 1
            else:
                self.counters["app_naks_in"] += 1
                if not self._answer("app_ack", now, "app_nak", reason=op2):
                    self.counters["unexpected_app_naks"] += 1
            return
        if n == "op_state":  # an op-state report from the UCM: link ACK only
            self._ack(now)
            return
        if n == "op_state_query":
            self._ack(now)
            self._reply(encode("op_state", state=self.state()), now)
            return
        if n not in APP_ACKED:
            if self.unknown_basic == 0:
                self._ack(now)
                self._reply(encode("app_nak", reason=1), now)
            else:
                self._nak(6 if self.unknown_basic == 6 else 7, now)
            return
        self._ack(now)
        if n in EVENTS:
            if self.override and self.nak_when_override:
                self._reply(encode("app_nak", reason=5), now)  # customer override in effect
                return
            self._start_event(n, op2, basic.duration_seconds(op2), now)
        elif n == "end_shed":
            self._end_event()
        elif n == "comm_status":
            self.comm_status = op2
            self.comm_status_ms = now
        else:
            self.ucm_values[n] = op2
        self._reply(encode("app_ack", opcode=msg.op1), now)

    def _start_event(self, kind, code, seconds, now, extra_wh=None, **more):
        if seconds is None and self.unknown_duration_s:
            seconds = self.unknown_duration_s  # code 0/0xFF: until End Shed, capped
            known = None
        else:
            known = seconds
        if extra_wh is None:
            extra_wh = self.load_up_extra_wh if kind == "load_up" else 0
        self.event = {
            "kind": kind,
            "code": code,
            "duration_s": known,
            "start": now,
            "end": None if seconds is None else now + seconds * 1000,
            "extra_wh": extra_wh,
        }
        self.event.update(more)
        self.counters["events"] += 1
        self._update_heating()

    def _end_event(self):
        self.event = None
        self._update_heating()

    # --- data link, PROTOCOL.md section 2.6 ---------------------------------------------------

    def _datalink(self, msg, now):
        n, op2 = msg.name, msg.op2
        if n == "max_payload_query":
            self._ack(now)
            self._reply(encode("max_payload", code=self.max_payload_code), now)
        elif n == "max_payload":
            self._ack(now)
            self.ucm_max_payload_code = op2
            if not self._answer("max_payload", now, "reply", code=op2):
                self.counters["unexpected_max_payload"] += 1
        elif n == "bit_rate" and op2 == 0:  # bit rate 19200: the one we run at
            self._ack(now)
        else:
            self._nak(7, now)

    # --- Intermediate DR, PROTOCOL.md section 4 -----------------------------------------------

    def _intermediate(self, msg, now):
        f = msg.fields
        if msg.reply:
            if msg.name == "utc_time":  # the UCM's answer to our Get UTC
                self._ack(now)
                self.ucm_utc = dict(f, received_ms=now)
                if self._answer("utc", now, "reply", fields=dict(f)):
                    return
            else:
                self._ack(now)
            self.counters["unexpected_replies"] += 1
            return
        feature = FEATURE_OF.get(msg.name)
        if feature not in self.features:
            self._nak(7, now)  # request not supported, like the Rinnai (PROTOCOL.md section 4.1)
            return
        n = len(msg.payload)
        if feature == "info":
            rc, data = 0, self._info_fields()
        elif feature == "commodity":
            if n > 3:  # Set Commodity Read: not supported
                self._nak(7, now)
                return
            rc, data = self._commodity(f.get("commodity"))
        elif feature == "setpoint":
            rc, data = self._setpoint(f) if n > 2 else (0, self._setpoint_fields())
        elif feature == "temperature":
            rc, data = (
                0,
                {"device_type": DEVICE_TYPE_HPWH, "temp_units": 0, "temperature": int(round(self.temperature_f()))},
            )
        elif feature == "alu":
            rc, data = self._alu(f, now) if n > 2 else (0, self._alu_fields(now))
        else:  # utc
            rc, data = self._utc(f, now, n)
        self._ack(now)
        if rc:
            data = {}
        self._reply(encode(msg.name, reply=True, rc=rc, **data), now)

    def _info_fields(self):
        y, m, d, major, minor = self.firmware
        return {
            "version": "A",
            "vendor_id": self.vendor_id,
            "device_type": DEVICE_TYPE_HPWH,
            "revision": 1,
            "capability": CAP_ALU if "alu" in self.features else 0,
            "reserved": 0,
            "model": self.model,
            "serial": self.serial,
            "fw_year": y - 2000,
            "fw_month": m - 1,  # 0 = January (PROTOCOL.md section 4.2)
            "fw_day": d,
            "fw_major": major,
            "fw_minor": minor,
        }

    def commodity_records(self):
        """Commodity records (PROTOCOL.md section 4.3): 0 electricity (measured, W and Wh), 6 the
        tank's capacity at setpoint, 7 the take (energy still needed to reach the present
        target, in 18 Wh steps as the Rinnai reports it); 6 and 7 estimated."""
        take = max(0.0, self.take_wh())
        return [
            {"code": 0, "measured": True, "rate": self.power_w(), "cumulative": int(self.energy_wh)},
            {"code": 6, "measured": False, "rate": 0, "cumulative": int(round(self.capacity()))},
            {"code": 7, "measured": False, "rate": 0, "cumulative": 18 * int(round(take / 18))},
        ]

    def _commodity(self, code):
        recs = self.commodity_records()
        if code is not None:
            recs = [r for r in recs if r["code"] == code & 0x7F]
            if not recs:
                return 2, {}  # bad value: a commodity we do not have
        return 0, {"records": recs}

    def _setpoint_fields(self):
        return {"device_type": DEVICE_TYPE_HPWH, "temp_units": 0, "setpoint1": int(self.setpoint_f)}

    def _setpoint(self, f):
        sp = f.get("setpoint1", -32768)
        if sp == -32768:  # 0x8000: leave it (PROTOCOL.md section 4.5)
            return 0, {}
        units = f.get("temp_units", 0)
        if units == 1:
            sp = sp * 9 / 5 + 32
        elif units != 0:
            return 2, {}
        sp = int(round(sp))
        if not self.min_setpoint_f <= sp <= self.max_setpoint_f:
            return 2, {}
        self.setpoint_f = sp
        self._update_heating()
        return 0, {}

    def _alu_fields(self, now):
        ev = self.event
        if ev is None or ev["kind"] != "advanced_load_up":
            return {"duration_min": 0, "value": 0, "units": 0xFF}  # not active
        left = 0 if ev["end"] is None else -(-(ev["end"] - now) // 60000)
        return {"duration_min": min(left, 0xFFFF), "value": ev["value"], "units": ev["units"]}

    def _alu(self, f, now):
        # PROTOCOL.md section 4.6: value 0 with units FF probes; 0xFFFF = as much as safely possible
        value, units, minutes = f["value"], f["units"], f["duration_min"]
        if units == 0xFF:
            return (0, {}) if value == 0 else (2, {})
        if units > 3:
            return 2, {}
        if self.override and self.nak_when_override:
            return 7, {}  # customer override
        if value == 0 or minutes == 0:
            if self.event is not None and self.event["kind"] == "advanced_load_up":
                self._end_event()
            return 0, {}
        extra = self.alu_max_wh if value == 0xFFFF else min(value * 10**units, self.alu_max_wh)
        self._start_event("advanced_load_up", None, minutes * 60, now, extra, value=value, units=units)
        return 0, {}

    def utc_now(self, now=None):
        """Our idea of the time, Unix seconds."""
        base, at = self._utc_base
        return base + ((self._now if now is None else now) - at) / 1000

    def _utc(self, f, now, n):
        if n > 2:  # Set UTC from the UCM: take its time
            self._utc_base = (f["utc"] + EPOCH_2000, now)
            self.ucm_utc = dict(f, received_ms=now)
            return 0, {}
        return 0, {"utc": max(0, int(self.utc_now(now)) - EPOCH_2000), "tz": 0, "dst": 0}
