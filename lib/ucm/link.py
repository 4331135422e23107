# The CTA-2045 link layer of the UCM, sans-IO: bytes go in with feed(data, now), frames
# to write come out of poll(now); times are ticks_ms. It answers every received frame with
# one link ACK or NAK T_MA after its last byte, sends one request at a time with link-ACK
# wait, retries and reply timeout, schedules application responses T_AR after its ACK,
# and tracks what the peer supports (MTSQ, max payload). What a received message means
# is the application's business: LinkLayer calls app.on_message() and app.tick().
# Facts: lib/cta2045/PROTOCOL.md sections 2.1-2.7.

from cta2045 import CodecError
from cta2045.frame import (
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
    max_payload,
    nak,
)
from cta2045.message import decode
from ucm.clock import ticks_add, ticks_diff

TYPES = (MT_BASIC, MT_INTERMEDIATE, MT_DATALINK)  # the message types we support

COUNTERS = (
    "frames_in frames_out acks_in acks_out naks_in naks_out checksum_errors rx_timeouts "
    "oversize junk_bytes retries ack_timeouts reply_timeouts app_naks_in requests_ok "
    "requests_failed mtsq_in unexpected_acks idle_resets startups link_downs "
    "naks_suppressed owed_dropped replies_dropped link_restarts"
).split()
# Bounds on what a heater can make us owe or log, however it misbehaves:
MAX_OWED = 4  # link ACK/NAKs owed at once; past it the oldest is dropped (owed_dropped)
MAX_REPLIES = 4  # answers owed to the SGD at once; past it the oldest is dropped
LOG_JUNK = 16  # bytes of a junk run or failed frame kept in the frame log
FLOOD = 32  # failed candidates since the last valid traffic: the link shows "flooded"


class Tx:
    """One frame we send that the peer must link-ACK: a request of ours (done on the
    ACK, or on its App ACK/NAK or reply when expect is set) or a response to the SGD.
    expect = (MT, op1, op2 or None) of the reply that completes it. When done, result is
    "ack", "reply", "app_nak", "link_nak", "no_ack", "timeout", "unsupported" or
    "link_down"; reason says more; reply is the Message that completed it."""

    def __init__(self, kind, frame, expect=None, response=False):
        self.kind = kind
        self.frame = frame
        self.expect = expect
        self.response = response
        self.attempts = 0
        self.not_before = None  # ticks before which it must not be (re)sent
        self.sent_at = 0
        self.pending = True  # waiting to be (re)sent
        self.done = False
        self.result = None
        self.reason = None
        self.reply = None
        self.extra = None  # dict merged into the API result (e.g. the duration sent)
        self.callbacks = []

    def finish(self, result, reason=None, reply=None):
        if self.done:
            return
        self.done = True
        self.pending = False
        self.result = result
        self.reason = reason
        self.reply = reply
        for cb in self.callbacks:
            cb(self)


class LinkLayer:
    def __init__(self, settings, counters, app):
        self.s = settings
        self.c = counters
        self.app = app  # on_message(msg, now, solicited) -> NAK code or 0; tick(now); on_wire(dir, data, now, note)
        self.max_payload = max_payload(settings.max_payload_code)
        self.reader = FrameReader(self._on_event, self.max_payload)
        self.peer_types = {}  # MT -> True (ACKed / used by the peer), False (NAKed 06)
        self.peer_max = 2  # the peer's max payload until it tells us (section 2.6)
        self.last_rx = None  # ticks of the last valid traffic from the peer
        self._ctl = []  # [due ticks, ACK/NAK bytes] we owe the peer, in order
        self._replies = []  # response Tx, in order
        self._queue = []  # request Tx, in order
        self._cur = None  # the request in flight
        self._wait = None  # the Tx waiting for its link ACK
        self._wait_until = 0
        self._reply_until = None  # deadline of _cur's App ACK/reply
        self._quiet_until = 0  # T_IM after a link ACK/NAK
        self._hold_until = 0  # hold_after_sgd_ms after an SGD-initiated frame
        self._now = 0
        self._out = None
        self.burst = 0  # failed candidates (bad checksum, oversize, timeout) since the last valid traffic
        self.unanswered = 0  # our frames that got no link ACK since the last valid traffic

    # --- timing helpers
    def wire_ms(self, n):
        """Time n bytes take on the wire at 8N1."""
        return (n * 10000 + self.s.baud - 1) // self.s.baud

    def _after(self, t, now):
        return t is None or ticks_diff(now, t) >= 0

    # --- receive
    def feed(self, data, now, count=-1):
        self._now = now
        self.reader.feed(data, now, count)

    def _answer(self, code):
        # one link ACK (code 0) or NAK, T_MA after the frame's last byte (section 2.2);
        # at most MAX_OWED owed at once (a flood cannot grow the list)
        ctl = self._ctl
        if len(ctl) >= MAX_OWED:
            ctl.pop(0)
            self.c["owed_dropped"] += 1
        ctl.append((ticks_add(self._now, self.s.t_ma_ms), nak(code) if code else ACK))

    def _failed(self, code, data, note, arg=None):
        # A candidate frame that failed: only the first of a burst (the failures since
        # the last valid traffic) is logged and NAKed; the rest are counted. Junk that
        # looks like headers (a stream of 0x08) then costs one NAK, not one per byte.
        self.burst += 1
        if self.burst > 1:
            self.c["naks_suppressed"] += 1
            return
        self.app.on_wire("rx", data[:LOG_JUNK], self._now, note if arg is None else note % arg)
        self._answer(code)

    def _valid_rx(self):
        self.last_rx = self._now
        self.burst = 0
        self.unanswered = 0
        self._quiet_until = ticks_add(self._now, self.s.t_im_ms)

    def restart(self):
        """After the engine's task was restarted: drop what was owed or half received
        (a restart must not inherit the state that may have made it fail)."""
        self.c["link_restarts"] += 1
        self._ctl = []
        r = self._replies
        self._replies = []
        for tx in r:
            tx.finish("dropped", "engine restarted")
        self.reader.reset()
        self.burst = 0

    def health(self):
        """(word, why): "ok"; "flooded" while failed frames keep coming without a valid
        one; "no_answer" while our frames get no link ACK."""
        if self.burst >= FLOOD:
            return "flooded", "%d failed frames since the last valid traffic" % self.burst
        if self.unanswered:
            return "no_answer", "%d frame(s) of ours without a link ACK since the last valid traffic" % self.unanswered
        return "ok", None

    def _on_event(self, ev, v):
        c = self.c
        now = self._now
        if ev == EV_FRAME:
            c["frames_in"] += 1
            self.app.on_wire("rx", v, now, None)
            self._valid_rx()
            self._rx_frame(v)
        elif ev == EV_ACK or ev == EV_NAK:
            self.app.on_wire("rx", ACK if ev == EV_ACK else nak(v), now, None)
            self._valid_rx()
            tx = self._wait
            if tx is None:
                c["unexpected_acks"] += 1  # a lone ACK/NAK gets no answer (section 2.3)
                return
            self._wait = None
            if ev == EV_ACK:
                c["acks_in"] += 1
                self._acked(tx)
            else:
                c["naks_in"] += 1
                if v == 6 or v == 7:  # "don't retry" (section 2.4)
                    self._done(tx, "link_nak", v)
                else:
                    self._retry(tx, v)
        elif ev == EV_BAD_CHECKSUM:
            c["checksum_errors"] += 1
            self._failed(3, v, "bad checksum")
        elif ev == EV_OVERSIZE:
            c["oversize"] += 1
            self._failed(2, b"", "oversize LEN %d", v)
        elif ev == EV_TIMEOUT:
            c["rx_timeouts"] += 1
            self._failed(5, v, "incomplete")
        elif ev == EV_JUNK:  # counted by the reader as they come (junk_bytes)
            if not self.burst:  # inside a burst the failure's log entry stands for it
                self.app.on_wire("rx", v[:LOG_JUNK], now, "junk (%d bytes)" % len(v))

    def _rx_frame(self, fr):
        mt = fr[0] << 8 | fr[1]
        if mt not in TYPES:
            self._answer(6)  # unknown or unsupported type, MTSQ included (section 2.5)
            return
        try:
            msg = decode(fr, False)
        except CodecError:
            self._answer(2)  # e.g. Basic DR with LEN != 2
            return
        self.peer_types[mt] = True  # the peer uses (or asks about) this type
        if not msg.payload:  # MTSQ: ACK = supported; no application reply
            self.c["mtsq_in"] += 1
            self._answer(0)
            return
        tx = self._cur
        if tx is not None and not tx.done and tx.expect is not None:
            e = tx.expect
            if mt == e[0]:
                res = None
                if msg.name == "app_nak":
                    res = "app_nak"
                elif msg.op1 == e[1] and (e[2] is None or msg.op2 == e[2]):
                    res = "ack" if msg.name == "app_ack" else "reply"
                if res:
                    if self._wait is tx:  # the reply stands in for a lost link ACK
                        self._wait = None
                    self._answer(0)
                    self.app.on_message(msg, self._now, True)
                    self._done(tx, res, None, msg)
                    return
        self._hold_until = ticks_add(self._now, self.s.hold_after_sgd_ms)
        self._answer(self.app.on_message(msg, self._now, False) or 0)

    # --- send
    def allowed(self, tx):
        """None if tx may be sent to this peer, else why not (section 2.5, 2.6)."""
        f = tx.frame
        mt = f[0] << 8 | f[1]
        n = len(f) - 6
        if n and mt != MT_BASIC and not self.peer_types.get(mt):
            return "the SGD has not acknowledged message type %04x" % mt
        if n > self.peer_max:
            return "%d-byte payload is over the SGD's max payload of %d" % (n, self.peer_max)
        return None

    def request(self, tx):
        """Queue a request of ours (sent in order, one at a time)."""
        self._queue.append(tx)
        return tx

    def respond(self, frame, delay_ms, kind="response"):
        """Queue a response to the SGD, delay_ms after the link ACK now owed."""
        tx = Tx(kind, frame, None, True)
        tx.not_before = ticks_add(self._now, self.s.t_ma_ms + self.wire_ms(2) + delay_ms)
        r = self._replies
        if len(r) >= MAX_REPLIES:  # a flood of requests from the SGD: the oldest answer goes
            r.pop(0).finish("dropped", "too many answers owed")
            self.c["replies_dropped"] += 1
        r.append(tx)
        return tx

    def drop_queued(self, result, reason):
        """Finish every request still waiting in the queue with result."""
        q = self._queue
        self._queue = []
        for tx in q:
            tx.finish(result, reason)

    def _emit(self, data, note=None):
        self._out.append(data)
        self.app.on_wire("tx", data, self._now, note)

    def _send(self, tx):
        now = self._now
        tx.attempts += 1
        tx.pending = False
        tx.sent_at = now
        self.c["frames_out"] += 1
        self._emit(tx.frame, None if tx.attempts == 1 else "attempt %d" % tx.attempts)
        self._wait = tx
        self._wait_until = ticks_add(now, self.wire_ms(len(tx.frame)) + self.s.ack_timeout_ms)
        if tx is self._cur:
            self._reply_until = None

    def _acked(self, tx):
        if tx.expect is None or tx.response:
            self._done(tx, "ack")
        elif tx is self._cur and not tx.done:
            self._reply_until = ticks_add(self._now, self.s.reply_timeout_ms)

    def _retry(self, tx, code):
        # no ACK (code None) or a NAK other than 06/07: again, retry_gap_ms after the
        # previous attempt, up to max_attempts (section 2.4)
        if tx.attempts >= self.s.max_attempts:
            self._done(tx, "no_ack", code)
            return
        self.c["retries"] += 1
        tx.pending = True
        tx.not_before = ticks_add(tx.sent_at, self.s.retry_gap_ms)
        if tx.response:
            self._replies.insert(0, tx)

    def _done(self, tx, result, reason=None, reply=None):
        if tx is self._cur:
            self._cur = None
            self._reply_until = None
        if tx is self._wait:
            self._wait = None
        tx.finish(result, reason, reply)

    def poll(self, now):
        self._now = now
        out = self._out = []
        s = self.s
        age = self.reader.partial_age(now)
        if age > s.t_ml_ms:
            self.reader.expire()  # NAK 05 (section 2.3)
        ctl = self._ctl
        while ctl and ticks_diff(now, ctl[0][0]) >= 0:
            b = ctl.pop(0)[1]
            self.c["acks_out" if b[0] == 6 else "naks_out"] += 1
            self._emit(b)
            self._quiet_until = ticks_add(now, self.wire_ms(2) + s.t_im_ms)
        if self._wait is not None and ticks_diff(now, self._wait_until) >= 0:
            tx = self._wait
            self._wait = None
            self.c["ack_timeouts"] += 1
            self.unanswered += 1
            self._retry(tx, None)
        if self._reply_until is not None and ticks_diff(now, self._reply_until) >= 0:
            self.c["reply_timeouts"] += 1
            self._done(self._cur, "timeout")
        if self.last_rx is not None and ticks_diff(now, self.last_rx) > s.idle_reset_ms:
            # no valid traffic for 15 min: back to defaults (section 2.6)
            self.c["idle_resets"] += 1
            self.peer_types = {}
            self.peer_max = 2
            self.last_rx = None
            self.app.on_idle_reset(now)
        self.app.tick(now)
        self._pick(now)
        self._out = None
        return out

    def _pick(self, now):
        # At most one frame waits for its link ACK; nothing starts while we owe an ACK,
        # while the peer is mid-frame, or within T_IM of the last ACK/NAK.
        if self._ctl or self._wait is not None or self.reader.partial_age(now) >= 0:
            return
        if not self._after(self._quiet_until, now):
            return
        r = self._replies
        if r and self._after(r[0].not_before, now):
            tx = r.pop(0)
            why = self.allowed(tx)
            if why:
                tx.finish("unsupported", why)
            else:
                self._send(tx)
            return
        if not self._after(self._hold_until, now):
            return
        tx = self._cur
        if tx is None:
            q = self._queue
            while q:
                tx = q[0]
                if not self._after(tx.not_before, now):
                    return
                q.pop(0)
                why = self.allowed(tx)
                if not why:
                    break
                tx.finish("unsupported", why)
                tx = None
            if tx is None:
                return
            self._cur = tx
        elif not tx.pending or not self._after(tx.not_before, now):
            return
        self._send(tx)

    def idle(self):
        """True when nothing is queued, in flight or owed."""
        return not (self._ctl or self._replies or self._queue or self._cur or self._wait)

    def next_due(self, now):
        """ms until poll() has something to do (a hint for the runner)."""
        if self._ctl:
            return max(0, ticks_diff(self._ctl[0][0], now))
        if self._wait is not None or self._replies or self._queue or self._cur is not None:
            return 5
        if self.reader.partial_age(now) >= 0:
            return 20
        if self.last_rx is None:
            return 1000
        # idle: nothing until the 15-minute reset (section 2.6), or bytes arrive
        return max(0, self.s.idle_reset_ms + 1 - ticks_diff(now, self.last_rx))
