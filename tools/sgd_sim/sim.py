# SgdSim, the simulated water heater: the sans-IO interface (feed, poll, next_due)
# over its parts: the link layer (link.py), the heater model (heater.py) and the
# fault controls (faults.py).

import math
import random
from collections import Counter

from cta2045.frame import FrameReader, max_payload

from sgd_sim.common import FEATURES, SETTINGS
from sgd_sim.faults import Faults
from sgd_sim.heater import Heater
from sgd_sim.link import Link


class SgdSim(Link, Heater, Faults):
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
        code = self.max_payload_code
        size = max_payload(code) if isinstance(code, int) and code >= 0 else None
        if size is None:
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
        self.reader = FrameReader(self._on_event, max_payload=size)
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
