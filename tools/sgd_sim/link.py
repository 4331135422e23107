# The simulated heater's own link layer (PROTOCOL.md section 2), written apart from
# lib/ucm's so that each cross-checks the other: sending with T_IM, link ACK/NAK,
# retries, the outcome of each request, discovery bursts (2.7) and receiving. A part
# of SgdSim (sim.py).


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
    nak,
)
from cta2045.message import decode

from sgd_sim.common import (
    _intermediate_frame,
    DISCOVERY,
    INTERMEDIATE_OPS,
    MTSQ_TYPE,
    REQUEST_FRAMES,
    _Request,
)


class Link:
    """SgdSim's link layer."""

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
