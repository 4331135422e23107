#!/usr/bin/env python3
# sgd_sim.py: a simulated CTA-2045 water heater (the "SGD") for the PC, CPython only.
# The UCM firmware and its tests run against it instead of a real heater. It behaves like
# the heaters described in the protocol reference (lib/cta2045/PROTOCOL.md): quick link ACKs, application replies a few
# hundred ms later, periodic discovery bursts, Basic DR events with operational states,
# customer override, optional Intermediate DR (GetInformation, commodity read, setpoint,
# temperature, Advanced Load Up, UTC), a small tank energy model, and fault injection.
#
# SgdSim is sans-IO: feed(data, now_ms), poll(now_ms) -> frames to write, next_due(now_ms).
# run(sim, port) drives it over a byte port (tools/ports.py); main() is the command line:
#     python tools/sgd_sim.py --pty            serve on a new pty, print its path
#     python tools/sgd_sim.py --serial /dev/ttyUSB0
# While running it prints every frame in and out and reads commands on stdin (help).

import argparse
import asyncio
import json
import math
import os
import random
import sys
import threading
import time
from collections import Counter

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (_HERE, os.path.join(os.path.dirname(_HERE), "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from cta2045 import CodecError, basic, names  # noqa: E402
from cta2045.frame import (  # noqa: E402
    ACK,
    EV_ACK,
    EV_BAD_CHECKSUM,
    EV_FRAME,
    EV_JUNK,
    EV_NAK,
    EV_OVERSIZE,
    EV_TIMEOUT,
    MT_BASIC,
    MT_DATALINK,
    MT_INTERMEDIATE,
    FrameReader,
    build,
    max_payload,
    nak,
)
from cta2045.message import decode, encode  # noqa: E402
from ucm.trace import describe  # noqa: E402,F401  (also sgd_sim.describe)

# Operational states, PROTOCOL.md section 3.2.
IDLE_NORMAL = 0
RUNNING_NORMAL = 1
RUNNING_CURTAILED = 2
RUNNING_HEIGHTENED = 3
IDLE_CURTAILED = 4
IDLE_HEIGHTENED = 6
IDLE_OPTED_OUT = 11
RUNNING_OPTED_OUT = 12
STATE_NAMES = names.TABLES["state"].split()

# Basic DR events (PROTOCOL.md section 3.1): op1 -> kind. Curtailing ones first.
CURTAIL = {0x01: "shed", 0x0A: "critical_peak", 0x0B: "grid_emergency"}
EVENTS = {**CURTAIL, 0x17: "load_up"}
HEIGHTEN = ("load_up", "advanced_load_up")
# Basic commands answered with an App ACK `03 op1` (PROTOCOL.md section 3.1).
APP_ACKED = set(EVENTS) | {0x02, 0x06, 0x07, 0x08, 0x09, 0x0C, 0x0E, 0x16, 0x18, 0x19}
# What each accepted Basic setting is recorded as in status()["ucm"].
RECORDED = {
    0x06: "power_level",
    0x07: "present_price",
    0x08: "next_price",
    0x09: "time_remaining",
    0x0C: "grid_guidance",
    0x16: "time_sync",
    0x18: "pending_event_time",
    0x19: "pending_event_type",
}

# Intermediate DR requests (op1, op2) -> feature name (PROTOCOL.md sections 4.2-4.6).
FEATURES = ("info", "commodity", "setpoint", "temperature", "alu", "utc")
INTERMEDIATE_OPS = {
    (0x01, 0x01): "info",
    (0x06, 0x00): "commodity",
    (0x03, 0x03): "setpoint",
    (0x03, 0x04): "temperature",
    (0x0C, 0x00): "alu",
    (0x02, 0x00): "utc",
}
DEVICE_TYPE_HPWH = 3  # water heater, heat pump (PROTOCOL.md section 4.2)
CAP_ALU = 1 << 6  # capability bit 6: Advanced Load Up
EPOCH_2000 = basic.EPOCH_2000
MAX_PAYLOAD = [b for b in map(max_payload, range(256)) if b]  # bytes by code (codes are 0..N)

# The SGD's own requests: kind -> frame (PROTOCOL.md sections 2.5, 2.6, 2.7, 4.4).
DISCOVERY = ("mtsq_basic", "mtsq_intermediate", "mtsq_data_link", "max_payload_query")
REQUEST_FRAMES = {
    "mtsq_basic": encode("type_supported_query", mt=MT_BASIC),
    "mtsq_intermediate": encode("type_supported_query", mt=MT_INTERMEDIATE),
    "mtsq_data_link": encode("type_supported_query", mt=MT_DATALINK),
    "max_payload_query": encode("max_payload_query"),  # 08 03 00 02 18 00 BA 75
    "get_utc": encode("utc_time"),  # 08 02 00 02 02 00 03 44
}
MTSQ_TYPE = {"mtsq_basic": "basic_dr", "mtsq_intermediate": "intermediate_dr", "mtsq_data_link": "data_link"}

# Every setting with its default; SgdSim(**settings) overrides, unknown names are refused.
SETTINGS = {
    # link layer, PROTOCOL.md sections 2.1-2.4
    "t_ma_ms": 15,  # T_MA: frame end -> our link ACK/NAK (real heaters: 10-20 ms)
    "reply_min_ms": 210,  # our link ACK -> our application reply, seeded random in
    "reply_max_ms": 420,  # [reply_min_ms, reply_max_ms] (the Rinnai's spread)
    "ack_timeout_ms": 200,  # our frame -> the UCM's link ACK
    "reply_timeout_ms": 3000,  # the UCM's link ACK -> its App ACK or reply
    "max_attempts": 3,  # sends of one frame of ours (request or reply) without a link ACK
    "retry_gap_ms": 1000,  # between two attempts (the Rinnai's discovery spacing)
    "t_im_ms": 100,  # T_IM: after any link ACK/NAK, before we start a new frame
    "t_ml_ms": 500,  # first byte -> last byte of a frame, then NAK 05
    "max_payload_code": 0x05,  # our answer to 0x18 and the largest payload we take: 64
    # discovery, PROTOCOL.md section 2.7
    "discovery_ms": 22000,  # burst period while the UCM answers (0 = no discovery)
    "discovery_unanswered_ms": 32000,  # burst period while it does not
    "discovery_jitter_ms": 3000,  # seeded +- jitter on each period
    "first_discovery_ms": 1000,  # boot -> first burst
    "utc_query_ms": 0,  # period of our Get UTC (0 = never)
    # Basic DR, PROTOCOL.md sections 3.1-3.4
    "nak_when_override": True,  # App NAK 05 for events while the customer override is on
    "unknown_basic": 7,  # unsupported Basic opcode: 7 / 6 = link NAK 07 / 06, 0 = App NAK 01
    "unknown_duration_s": 14400,  # cap for events of unknown duration (code 0/0xFF); 0 = none
    "comm_loss_cancel_s": 0,  # cancel an event this long without comm status (EPRI: 300)
    # Intermediate DR, PROTOCOL.md section 4
    "intermediate": True,  # False: MTSQ 08 02 and every 08 02 frame get NAK 06
    "features": FEATURES,  # supported Intermediate requests; others get link NAK 07
    "vendor_id": 0x7FFF,
    "model": "HPWH-SIM-50",
    "serial": None,  # None: derived from the seed
    "firmware": (2024, 5, 12, 1, 3),  # year, month (1-12), day, major, minor
    "utc_start": None,  # our clock at boot, Unix seconds (None: the wall clock)
    # tank model (deterministic), energies in Wh above the inlet temperature
    "capacity_wh": 12000,  # stored energy of a full tank at setpoint_f
    "setpoint_f": 125,
    "inlet_f": 50,
    "min_setpoint_f": 90,
    "max_setpoint_f": 140,
    "initial_take_wh": 300,  # energy needed to reach the setpoint at boot
    "heat_start_wh": 900,  # start heating when the take exceeds this; stop at 0
    "element_fraction": 0.4,  # resistive element when the take exceeds this share
    "curtail_limit_fraction": 0.7,  # while curtailed, heat only beyond this share
    "heat_pump_w": 450,  # electric power of the compressor
    "heat_pump_cop": 3.0,  # heat delivered per electric W
    "element_w": 4500,
    "standby_w": 35,  # standby heat loss
    "load_up_extra_wh": 2000,  # stored above a full tank during a Basic Load Up
    "alu_max_wh": 3000,  # most an Advanced Load Up may add
    "draws_per_hour": 0.0,  # seeded random hot-water draws of 200-1500 Wh (0 = none)
    "keep": 2000,  # entries kept in received and outcomes
}


class _Request:
    """One frame the SGD sends (a request of its own or an application reply), tracked
    until the UCM's link ACK, with retries."""

    def __init__(self, kind, frame, expect=None, discovery=False, reply=False):
        self.kind = kind
        self.reply = reply  # an application reply of ours (App ACK/NAK, 0x13, 0x19, 08 02)
        self.frame = frame
        self.expect = expect  # None, "app_ack", "max_payload" or "utc": what follows the ACK
        self.discovery = discovery
        self.attempts = 0
        self.first_ms = None
        self.sent_ms = None
        self.ack_ms = None
        self.not_before = 0
        self.deadline = None


class SgdSim:
    """The simulated water heater, sans-IO. Times are int milliseconds of one monotonic
    clock, given to every feed/poll; methods without a time use the last one seen.

    Observability: counters (Counter), naks_in / naks_out (Counter by NAK code), received
    (list of (now_ms, frame) from the UCM), outcomes (list of dicts, one per request of
    ours), answer_ms (the UCM's link ACK/NAK latency to each frame of ours, in ms),
    state(), state_name(), status(), and trace(direction, data, now_ms) with
    direction "in" or "out", called for every frame, ACK and NAK."""

    def __init__(self, seed=0, trace=None, **settings):
        for k in settings:
            if k not in SETTINGS:
                raise TypeError("unknown setting: " + k)
        for k, v in SETTINGS.items():
            setattr(self, k, settings.get(k, v))
        feats = self.features
        if isinstance(feats, str):
            feats = [f for f in feats.replace(" ", "").split(",") if f]
        self.features = frozenset(feats)
        bad = self.features - set(FEATURES)
        if bad:
            raise ValueError("unknown features: " + ",".join(sorted(bad)))
        if not 0 <= self.max_payload_code < len(MAX_PAYLOAD):
            raise ValueError("max_payload_code out of 0..13")
        self.seed = seed
        self.trace = trace
        self._rng = random.Random(seed)  # protocol timing
        self._draw_rng = random.Random(seed * 7919 + 1)  # hot-water draws
        if self.serial is None:
            self.serial = "SIM%08d" % (seed % 100000000)
        self.counters = Counter()
        self.naks_in = Counter()
        self.naks_out = Counter()
        self.received = []
        self.outcomes = []
        self.answer_ms = []  # the UCM's link ACK/NAK latencies: ms from our frame to it
        self._seq = 0
        self._t0 = None
        self._now = None
        self._deferred = []  # fault calls made before the first feed/poll
        self._drop = 0
        self._drop_match = None
        self._corrupt = 0
        self._silent_until = None  # ms, math.inf (forever) or None
        self._reboot_up = None
        self.reader = FrameReader(self._on_event, max_payload=MAX_PAYLOAD[self.max_payload_code])
        # tank model
        self._wh_per_f = self.capacity_wh / (self.setpoint_f - self.inlet_f)
        self.stored_wh = float(self.capacity_wh - self.initial_take_wh)
        self.energy_wh = 0.0
        self.heating = None  # None, "heat_pump" or "element"
        self._utc_base = None  # (Unix seconds, at now_ms)
        self._reset_protocol()

    # --- the sans-IO interface ---------------------------------------------------------

    def feed(self, data, now_ms):
        """Bytes received from the UCM at now_ms."""
        now = self._tick(now_ms)
        if self._is_silent(now):
            self.counters["bytes_ignored"] += len(data)
            return
        self.reader.feed(data, now)

    def poll(self, now_ms):
        """Run the timers; return the frames (bytes, ACK/NAKs included) to write now."""
        now = self._tick(now_ms)
        out = []
        if self._is_silent(now):
            return out
        while self._acks and self._acks[0][0] <= now:
            b = self._acks.pop(0)[2]
            self._emit_link(b, now, out)
        tx = self._tx
        if tx is not None and now - tx[0] >= self.ack_timeout_ms:
            self._tx = None
            self._no_ack(tx, now)
        if self._tx is None and now >= self._last_link + self.t_im_ms and self.reader.partial_age(now) < 0:
            req = None
            if self._replies and self._replies[0][0] <= now:
                req = self._replies.pop(0)[2]
            elif self._requests and self._requests[0].not_before <= now:
                req = self._requests.pop(0)
            if req is not None:
                req.attempts += 1
                req.sent_ms = now
                if req.first_ms is None:
                    req.first_ms = now
                self._transmit(req, now, out)
        return out

    def next_due(self, now_ms):
        """ms until poll() next has something to do (a hint, 0..1000)."""
        if self._t0 is None:
            return 0
        now = max(now_ms, self._now)
        c = [now + 1000]
        if self._reboot_up is not None:
            c.append(self._reboot_up)
        if self._silent_until is not None and self._silent_until != math.inf:
            c.append(self._silent_until)
        if not self._is_silent(now):
            if self._acks:
                c.append(self._acks[0][0])
            age = self.reader.partial_age(now)
            if age >= 0:
                c.append(now - age + self.t_ml_ms)
            if self._tx is not None:
                c.append(self._tx[0] + self.ack_timeout_ms)
            elif age < 0:
                t = None
                if self._replies:
                    t = self._replies[0][0]
                if self._requests and (t is None or self._requests[0].not_before < t):
                    t = self._requests[0].not_before
                if t is not None:
                    c.append(max(t, self._last_link + self.t_im_ms))
        for r in self._awaiting:
            c.append(r.deadline)
        ev = self.event
        if ev is not None:
            if ev["end"] is not None:
                c.append(ev["end"])
            if self.comm_loss_cancel_s:
                c.append(self._comm_ref(ev) + self.comm_loss_cancel_s * 1000)
        for t in (self._next_discovery, self._next_utc, self._next_draw):
            if t is not None:
                c.append(t)
        return int(max(0, min(c) - now))

    # --- customer, tank and fault controls --------------------------------------------

    def set_override(self, on):
        """The customer presses the override button (on) or releases it: the state changes
        at once and the SGD tells the UCM with an unsolicited `11 01` / `11 00`, then
        expects its App ACK `03 11` (PROTOCOL.md sections 2.7, 3.4)."""
        self.override = bool(on)
        self._update_heating()
        self._queue(_Request("override", encode("customer_override", override=1 if on else 0), "app_ack"))

    def draw(self, wh):
        """Hot water drawn: the tank loses wh of stored energy."""
        if wh < 0:
            raise ValueError("draw must be >= 0 Wh")
        self.stored_wh = max(0.0, self.stored_wh - wh)
        self.counters["draws"] += 1
        self._update_heating()

    def drop_acks(self, n, match=None):
        """Give no link ACK/NAK to the next n frames received, and ignore them (as if lost
        on the wire). With match (bytes), only frames starting with it count, e.g.
        bytes.fromhex("0801000202") for the next End Shed."""
        self._drop = int(n)
        self._drop_match = None if match is None else bytes(match)

    def corrupt(self, n):
        """The next n frames we send (not ACK/NAKs) go out with a wrong checksum."""
        self._corrupt = int(n)

    def silent(self, ms):
        """Send nothing and ignore input for ms milliseconds; None = until silent(0);
        0 = speak again now. Pending ACKs and replies are dropped."""
        if self._now is None:
            self._deferred.append(lambda: self.silent(ms))
            return
        if ms == 0:
            self._silent_until = None
            return
        self._silent_until = math.inf if ms is None else self._now + ms
        self._go_quiet()

    def reboot(self, down_ms=2000):
        """Silent for down_ms, then start over: override off, event cleared, link state
        forgotten, discovery from scratch. The tank keeps its energy."""
        if self._now is None:
            self._deferred.append(lambda: self.reboot(down_ms))
            return
        self._reboot_up = self._now + down_ms
        self._silent_until = None
        self._go_quiet()

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
        if on and kind in CURTAIL.values() and take <= self.curtail_limit_fraction * cap:
            on = False
        self.heating = None if not on else "element" if take > self.element_fraction * cap else "heat_pump"

    def _schedule_draw(self, now):
        rate = self.draws_per_hour
        self._next_draw = None if not rate else now + int(self._draw_rng.expovariate(rate) * 3600000) + 1

    def _comm_ref(self, ev):
        return max(ev["start"], self.comm_status_ms if self.comm_status_ms is not None else self._t0)

    def _is_silent(self, now):
        return self._reboot_up is not None or (self._silent_until is not None and now < self._silent_until)

    # --- boot, reboot, silence ---------------------------------------------------------

    def _reset_protocol(self):
        self.override = False
        self.event = None
        self.comm_status = None
        self.comm_status_ms = None
        self.ucm_types = {"basic_dr": None, "intermediate_dr": None, "data_link": None}
        self.ucm_max_payload_code = None
        self.ucm_utc = None
        self.ucm_values = {}
        self._acks = []  # [due, seq, bytes]: our link ACK/NAKs
        self._replies = []  # [due, seq, _Request]: our application replies, in order
        self._requests = []  # _Request queue, FIFO
        self._awaiting = []  # requests link-ACKed, waiting for an App ACK or a reply
        self._tx = None  # (sent_ms, _Request, bytes sent): our frame awaiting its ACK
        self._last_link = -(10**12)
        self._burst = None
        self._burst_start = None
        self._burst_answered = False
        self._last_burst_answered = None
        self._next_discovery = None
        self._next_utc = None
        self._next_draw = None
        self.reader.reset()

    def _boot(self, now):
        if self.discovery_ms:
            self._next_discovery = now + self.first_discovery_ms
        if self.utc_query_ms:
            self._next_utc = now + self.utc_query_ms
        self._schedule_draw(now)
        if self._utc_base is None:  # a reboot keeps the clock
            start = self.utc_start if self.utc_start is not None else time.time()
            self._utc_base = (start, now)

    def _go_quiet(self):
        self._acks = []
        self._replies = []
        if self._tx is not None and self._tx[1].reply:
            self._tx = None  # a stale reply is not sent again afterwards
        self.reader.reset()

    def _after_reboot(self, now):
        self._burst = None
        for r in self._pending_requests():
            self._finish(r, now, "aborted")
        self._reset_protocol()
        self._reboot_up = None
        self.counters["reboots"] += 1
        self._boot(now)
        self._update_heating()

    def _pending_requests(self):
        rs = list(self._requests) + list(self._awaiting)
        if self._tx is not None and not self._tx[1].reply:
            rs.append(self._tx[1])
        return rs

    # --- sending -----------------------------------------------------------------------

    def _trace(self, direction, data, now):
        if self.trace is not None:
            self.trace(direction, bytes(data), now)

    def _emit_link(self, b, now, out):
        out.append(b)
        self._last_link = now
        if b[0] == 0x06:
            self.counters["acks_out"] += 1
        else:
            self.counters["naks_out"] += 1
            self.naks_out[b[1]] += 1
        self._trace("out", b, now)

    def _transmit(self, req, now, out):
        frame = req.frame
        if self._corrupt > 0:
            self._corrupt -= 1
            self.counters["frames_corrupted"] += 1
            frame = frame[:-1] + bytes((frame[-1] ^ 1,))  # +-1 on CK2 never keeps it valid
        if req.reply and req.attempts == 1 and frame[:2] == b"\x08\x01":
            if frame[4] == 0x03:
                self.counters["app_acks_out"] += 1
            elif frame[4] == 0x04:
                self.counters["app_naks_out"] += 1
        out.append(frame)
        self.counters["frames_out"] += 1
        self._tx = (now, req, frame)
        self._trace("out", frame, now)

    def _queue(self, req, front=False):
        if front:
            self._requests.insert(0, req)
        else:
            self._requests.append(req)

    def _link_answer(self, b, now):
        self._seq += 1
        due = now + self.t_ma_ms
        a = self._acks
        i = len(a)
        while i and a[i - 1][0] > due:
            i -= 1
        a.insert(i, [due, self._seq, b])

    def _ack(self, now):
        self._link_answer(ACK, now)

    def _nak(self, code, now):
        self._link_answer(nak(code), now)

    def _reply(self, frame, now):
        """An application reply: our link ACK first, then 210-420 ms (PROTOCOL.md section 2.2)."""
        self._seq += 1
        due = now + self.t_ma_ms + self._rng.randint(self.reply_min_ms, self.reply_max_ms)
        r = self._replies
        i = len(r)
        while i and r[i - 1][0] > due:
            i -= 1
        r.insert(i, [due, self._seq, _Request("reply", frame, reply=True)])

    # --- our requests: ACK, NAK, retries, outcomes -------------------------------------

    def _retry(self, req):
        # PROTOCOL.md section 2.4: again retry_gap_ms after the previous attempt; replies keep their
        # place at the head of the reply queue, requests at the head of theirs
        self.counters["retries"] += 1
        req.not_before = req.sent_ms + self.retry_gap_ms
        if req.reply:
            self._replies.insert(0, [req.not_before, 0, req])
        else:
            self._queue(req, front=True)

    def _no_ack(self, tx, now):
        self.counters["no_ack"] += 1
        req = tx[1]
        if req.attempts < self.max_attempts:
            self._retry(req)
        elif req.reply:
            self.counters["replies_unacked"] += 1
        else:
            self._finish(req, now, "no_ack")

    def _on_link(self, code, now):
        # A link ACK (code None) or NAK from the UCM: it answers our frame on the wire.
        self._last_link = now
        tx = self._tx
        if tx is None:
            self.counters["unexpected_acks" if code is None else "unexpected_naks"] += 1
            return
        self._tx = None
        self._keep(self.answer_ms, now - tx[0])
        req = tx[1]
        if req.discovery:
            self._burst_answered = True
        if code in (2, 3, 5) and req.attempts < self.max_attempts:  # damaged on the way: again
            self._retry(req)
            return
        if req.reply:
            self.counters["replies_acked" if code is None else "replies_naked"] += 1
            return
        if code is None:
            req.ack_ms = now
            if req.expect is None:
                self._finish(req, now, "ack")
            else:
                req.deadline = now + self.reply_timeout_ms
                self._awaiting.append(req)
        else:  # 06/07 (and 00/01): do not retry (PROTOCOL.md section 2.4)
            self._finish(req, now, "nak", nak=code)

    def _answer(self, expect, now, result, **extra):
        # The UCM's application answer to one of our requests, oldest first.
        for r in self._awaiting:
            if r.expect == expect:
                self._awaiting.remove(r)
                self._finish(r, now, result, **extra)
                return True
        return False

    def _finish(self, req, now, result, **extra):
        o = {
            "kind": req.kind,
            "hex": req.frame.hex(),
            "sent_ms": req.first_ms,
            "attempts": req.attempts,
            "result": result,
            "done_ms": now,
            "ack_ms": req.ack_ms,
        }
        o.update(extra)
        self._keep(self.outcomes, o)
        self.counters["requests_" + result] += 1
        if req.kind in MTSQ_TYPE:
            if result == "ack":
                self.ucm_types[MTSQ_TYPE[req.kind]] = True
            elif result == "nak" and extra.get("nak") == 6:
                self.ucm_types[MTSQ_TYPE[req.kind]] = False
        if req.discovery and self._burst is not None:
            self._burst_next(now)

    def _keep(self, lst, item):
        lst.append(item)
        if len(lst) > self.keep:
            del lst[: len(lst) - self.keep]

    # --- discovery, PROTOCOL.md section 2.7 ---------------------------------------------------

    def _start_burst(self, now):
        self.counters["discovery_bursts"] += 1
        self._burst = list(DISCOVERY)
        self._burst_start = now
        self._burst_answered = False
        self._burst_next(now, 0)

    def _burst_next(self, now, gap=None):
        if not self._burst:
            self._burst = None
            self._last_burst_answered = self._burst_answered
            if self.discovery_ms:
                period = self.discovery_ms if self._burst_answered else self.discovery_unanswered_ms
                j = self.discovery_jitter_ms
                nxt = self._burst_start + period + (self._rng.randint(-j, j) if j else 0)
                self._next_discovery = max(nxt, now + self.t_im_ms)
            return
        kind = self._burst.pop(0)
        req = _Request(kind, REQUEST_FRAMES[kind], "max_payload" if kind == "max_payload_query" else None, True)
        req.not_before = now + (self.t_im_ms if gap is None else gap)
        self._queue(req)

    # --- receiving ---------------------------------------------------------------------

    def _on_event(self, ev, value):
        now = self._now
        if ev == EV_FRAME:
            self._on_frame(bytes(value), now)
        elif ev == EV_ACK or ev == EV_NAK:
            self._trace("in", ACK if ev == EV_ACK else nak(value), now)
            if ev == EV_ACK:
                self.counters["acks_in"] += 1
                self._on_link(None, now)
            else:
                self.counters["naks_in"] += 1
                self.naks_in[value] += 1
                self._on_link(value, now)
        elif ev == EV_BAD_CHECKSUM:
            self.counters["bad_checksum_in"] += 1
            self._trace("in", value, now)
            if not self._dropped(value):
                self._nak(3, now)
        elif ev == EV_OVERSIZE:
            self.counters["oversize_in"] += 1
            if not self._dropped():
                self._nak(2, now)
        elif ev == EV_TIMEOUT:
            self.counters["incomplete_in"] += 1
            self._trace("in", value, now)
            self._nak(5, now)
        elif ev == EV_JUNK:
            self.counters["junk_bytes_in"] += len(value)

    def _dropped(self, frame=None):
        m = self._drop_match
        if self._drop > 0 and (m is None or (frame is not None and bytes(frame[: len(m)]) == m)):
            self._drop -= 1
            self.counters["acks_dropped"] += 1
            return True
        return False

    def _on_frame(self, frame, now):
        self.counters["frames_in"] += 1
        self._keep(self.received, (now, frame))
        self._trace("in", frame, now)
        self._last_link = now
        if self._dropped(frame):
            return
        mt = frame[0] << 8 | frame[1]
        ln = len(frame) - 6
        if mt not in (MT_BASIC, MT_DATALINK) and not (mt == MT_INTERMEDIATE and self.intermediate):
            self._nak(6, now)  # unsupported message type, MTSQ included (PROTOCOL.md section 2.5)
            return
        if ln == 0:
            self.counters["mtsq_in"] += 1
            self._ack(now)
            return
        try:
            msg = decode(frame)
        except CodecError:
            op = (frame[4], frame[5] & 0x7F) if ln >= 2 else None
            if mt == MT_INTERMEDIATE and INTERMEDIATE_OPS.get(op) in self.features and not frame[5] & 0x80:
                self._ack(now)  # a request we know, with a bad length: RC 03
                self._reply(_intermediate_frame(bytes((frame[4], frame[5] | 0x80, 3))), now)
            else:
                self._nak(2, now)  # invalid length (Basic DR is always 2 bytes)
            return
        if mt == MT_BASIC:
            self._basic(msg, now)
        elif mt == MT_DATALINK:
            self._datalink(msg, now)
        else:
            self._intermediate(msg, now)

    # --- Basic DR, PROTOCOL.md section 3 ------------------------------------------------------

    def _basic(self, msg, now):
        op1, op2 = msg.op1, msg.op2
        if op1 == 0x03 or op1 == 0x04:  # the UCM's App ACK / NAK: link ACK only
            self._ack(now)
            if op1 == 0x03:
                self.counters["app_acks_in"] += 1
                if op2 == 0x11 and self._answer("app_ack", now, "app_ack"):
                    return
                self.counters["unexpected_app_acks"] += 1
            else:
                self.counters["app_naks_in"] += 1
                if not self._answer("app_ack", now, "app_nak", reason=op2):
                    self.counters["unexpected_app_naks"] += 1
            return
        if op1 == 0x13:  # an op-state report from the UCM: link ACK only
            self._ack(now)
            return
        if op1 == 0x12:
            self._ack(now)
            self._reply(encode("op_state", state=self.state()), now)
            return
        if op1 not in APP_ACKED:
            if self.unknown_basic == 0:
                self._ack(now)
                self._reply(encode("app_nak", reason=1), now)
            else:
                self._nak(6 if self.unknown_basic == 6 else 7, now)
            return
        self._ack(now)
        if op1 in EVENTS:
            if self.override and self.nak_when_override:
                self._reply(encode("app_nak", reason=5), now)  # customer override in effect
                return
            self._start_event(EVENTS[op1], op2, basic.duration_seconds(op2), now)
        elif op1 == 0x02:
            self._end_event()
        elif op1 == 0x0E:
            self.comm_status = op2
            self.comm_status_ms = now
        else:
            self.ucm_values[RECORDED[op1]] = op2
        self._reply(encode("app_ack", opcode=op1), now)

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
        op1, op2 = msg.op1, msg.op2
        if op1 == 0x18:
            self._ack(now)
            self._reply(encode("max_payload", code=self.max_payload_code), now)
        elif op1 == 0x19:
            self._ack(now)
            self.ucm_max_payload_code = op2
            if not self._answer("max_payload", now, "reply", code=op2):
                self.counters["unexpected_max_payload"] += 1
        elif op1 == 0x17 and op2 == 0:  # bit rate 19200: the one we run at
            self._ack(now)
        else:
            self._nak(7, now)

    # --- Intermediate DR, PROTOCOL.md section 4 -----------------------------------------------

    def _intermediate(self, msg, now):
        op = (msg.op1, msg.op2 & 0x7F)
        f = msg.fields
        if msg.reply:
            if op == (0x02, 0x00):  # the UCM's answer to our Get UTC
                self._ack(now)
                self.ucm_utc = dict(f, received_ms=now)
                if self._answer("utc", now, "reply", fields=dict(f)):
                    return
            else:
                self._ack(now)
            self.counters["unexpected_replies"] += 1
            return
        feature = INTERMEDIATE_OPS.get(op)
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


def _intermediate_frame(payload):
    return build(MT_INTERMEDIATE, payload)


# --- the asyncio runner -----------------------------------------------------------------


def monotonic_ms():
    return int(time.monotonic() * 1000)


async def run(sim, port, clock=monotonic_ms, trace=None, poll_ms=2, stop=None):
    """Serve sim on a byte port until cancelled (or until the asyncio.Event stop is set):
    read what is there, feed it, write what poll() returns, every poll_ms."""
    if trace is not None:
        sim.trace = trace
    buf = bytearray(512)
    while stop is None or not stop.is_set():
        while True:
            n = port.readinto(buf)
            if not n:
                break
            sim.feed(bytes(buf[:n]), clock())
            if n < len(buf):
                break
        for frame in sim.poll(clock()):
            await port.write(frame)
        await asyncio.sleep(poll_ms / 1000)


# --- the command line -------------------------------------------------------------------


def format_line(sim, direction, data, now):
    t = (now - (sim.t0_ms or now)) / 1000
    arrow = "SGD->UCM" if direction == "out" else "UCM->SGD"
    return "%9.3f %s %s %s" % (t, arrow, data.hex(" "), describe(data))


HELP = """commands:
  override on|off     customer override (sends 11 01 / 11 00)
  silent SECONDS      send nothing, ignore input (0 = speak again, 'forever')
  drop-acks N         do not ACK the next N frames
  corrupt N           send the next N frames with a bad checksum
  delay-ack MS        link ACK delay (now %s ms)
  reboot [SECONDS]    go silent, then start over (default 2 s)
  draw WH             draw hot water worth WH
  status              one line of JSON
  help, quit"""


class _Quit(Exception):
    pass


def command(sim, line):
    """Run one stdin command; returns the text to print ("" for none). Raises _Quit."""
    words = line.split()
    if not words:
        return ""
    cmd, args = words[0].lower(), words[1:]

    def num(i, kind=int, low=0):
        try:
            v = kind(args[i])
        except (IndexError, ValueError):
            raise ValueError("%s needs a number" % cmd)
        if not v >= low or v != v or v == math.inf:
            raise ValueError("%s: %s is out of range" % (cmd, args[i]))
        return v

    try:
        if cmd in ("quit", "exit"):
            raise _Quit()
        if cmd == "help":
            return HELP % sim.t_ma_ms
        if cmd == "status":
            return json.dumps(sim.status(), separators=(",", ":"))
        if cmd == "override":
            if len(args) != 1 or args[0].lower() not in ("on", "off"):
                raise ValueError("usage: override on|off")
            sim.set_override(args[0].lower() == "on")
            return "override %s" % args[0].lower()
        if cmd == "silent":
            if args[:1] == ["forever"]:
                sim.silent(None)
                return "silent until 'silent 0'"
            s = num(0, float)
            sim.silent(int(s * 1000))
            return "silent for %g s" % s if s else "speaking again"
        if cmd == "drop-acks":
            sim.drop_acks(num(0))
            return "dropping the next %d ACKs" % sim._drop
        if cmd == "corrupt":
            sim.corrupt(num(0))
            return "corrupting the next %d frames" % sim._corrupt
        if cmd == "delay-ack":
            sim.t_ma_ms = num(0)
            return "ACK delay %d ms" % sim.t_ma_ms
        if cmd == "reboot":
            s = num(0, float) if args else 2.0
            sim.reboot(int(s * 1000))
            return "rebooting (down %g s)" % s
        if cmd == "draw":
            sim.draw(num(0, float))
            return "drew %s Wh; take now %d Wh" % (args[0], round(sim.take_wh()))
        raise ValueError("unknown command %r (try help)" % cmd)
    except ValueError as e:
        return "error: %s" % e


def _parser():
    p = argparse.ArgumentParser(
        prog="sgd_sim.py",
        description="A simulated CTA-2045 water heater (SGD) on a pty or a serial port. "
        "Prints every frame in and out; reads commands on stdin (type help).",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="create a pty, print its path and serve on it (the default)")
    where.add_argument("--serial", metavar="PATH", help="serve on a serial device (e.g. a USB RS-485 adapter)")
    p.add_argument("--baud", type=int, default=19200, help="serial bit rate (default 19200)")
    p.add_argument("--no-intermediate", action="store_true", help="no Intermediate DR: NAK 06 for 08 02")
    p.add_argument(
        "--features", default=",".join(FEATURES), help="Intermediate requests supported (default %(default)s)"
    )
    p.add_argument(
        "--max-payload-code", type=lambda s: int(s, 0), default=5, help="answer to 0x18 (default 5 = 64 bytes)"
    )
    p.add_argument(
        "--discovery-s", type=float, default=22.0, help="discovery burst period while answered, 0 = off (default 22)"
    )
    p.add_argument("--utc-query-s", type=float, default=0.0, help="Get UTC period, 0 = off (default)")
    p.add_argument(
        "--t-ma-ms", "--ack-delay-ms", type=int, default=15, help="T_MA, the link ACK delay in ms (default 15)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="do not print frames")
    return p


def read_lines(stdin, put):
    """put(line) for every line of text from stdin (a terminal, a pipe, a fifo or any
    file object), until its end. A daemon thread blocked in a read must hold no
    Python-level lock at exit, so a real stdin is read through its file descriptor."""
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is None:
        for line in stdin:
            put(line)
        return
    pending = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending += chunk
        *done, pending = pending.split(b"\n")
        for line in done:
            put(line.decode("utf-8", "replace"))
    if pending:
        put(pending.decode("utf-8", "replace"))


async def _serve(sim, port, stdin, say):
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def reader():
        try:
            read_lines(stdin, lambda line: loop.call_soon_threadsafe(lines.put_nowait, line))
        except (OSError, ValueError, RuntimeError):
            pass
        try:
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except RuntimeError:  # the loop is gone already
            pass

    threading.Thread(target=reader, daemon=True).start()
    task = asyncio.create_task(run(sim, port))
    try:
        while True:
            get = asyncio.ensure_future(lines.get())
            done, _ = await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                get.cancel()
                task.result()  # a port error: raise it
                return
            line = get.result()
            if line is None:
                return
            try:
                text = command(sim, line)
            except _Quit:
                return
            if text:
                say(text)
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass


def main(argv=None, stdin=None, stdout=None):
    args = _parser().parse_args(argv)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout

    def say(text):
        print(text, file=stdout, flush=True)

    try:
        feats = [f for f in args.features.replace(" ", "").split(",") if f]
        sim = SgdSim(
            seed=args.seed,
            intermediate=not args.no_intermediate,
            features=feats,
            max_payload_code=args.max_payload_code,
            discovery_ms=int(args.discovery_s * 1000),
            utc_query_ms=int(args.utc_query_s * 1000),
            t_ma_ms=args.t_ma_ms,
        )
    except (TypeError, ValueError) as e:
        print("sgd_sim.py: error: %s" % e, file=sys.stderr)
        return 2
    if not args.quiet:
        sim.trace = lambda d, data, now: say(format_line(sim, d, data, now))
    from ports import FdPort, SerialPort, open_pty

    try:
        if args.serial:
            port = SerialPort(args.serial, args.baud)
            say("serial: %s" % args.serial)
        else:
            master, slave, path = open_pty()
            os.close(slave)  # the peer opens the path; FdPort sees it come and go
            port = FdPort(master)
            say("pty: %s" % path)
    except Exception as e:  # no such device, permission, no ptys
        print("sgd_sim.py: error: %s" % e, file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve(sim, port, stdin, say))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print("sgd_sim.py: error: %s" % e, file=sys.stderr)
        return 1
    finally:
        port.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
