# The customer's and the tester's controls of the simulated heater: override, hot
# water drawn, link ACKs dropped, frames corrupted, silence, reboot; and what boot,
# reboot and silence do to the protocol state. A part of SgdSim (sim.py).

import math
import time

from cta2045.message import encode

from sgd_sim.common import (
    _Request,
)


class Faults:
    """SgdSim's controls and its boot, reboot and silence."""

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
