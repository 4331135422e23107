# The UCM application on top of the link layer, sans-IO: the start-up sequence, the
# outside-communication-status heartbeat, operational-state and commodity polls, answers
# to the SGD's own messages (customer override, sleep/wake, Get UTC, GetInformation,
# max-payload query), the commands the owner sends, and the SGD's state as last seen.
# Facts: lib/cta2045/PROTOCOL.md sections 3.1-3.4 (Basic DR), 4.2-4.6 (Intermediate).

from cta2045 import basic
from cta2045.frame import MT_BASIC, MT_DATALINK, MT_INTERMEDIATE, max_payload
from cta2045.message import decode, encode
from ucm import RELEASED, __version__
from ucm.clock import ticks_add, ticks_diff
from ucm.link import COUNTERS, LinkLayer, Tx
from ucm.settings import Settings

_TYPE_NAMES = ((MT_BASIC, "basic_dr"), (MT_INTERMEDIATE, "intermediate_dr"), (MT_DATALINK, "data_link"))
_STARTUP = 8  # steps of the start-up sequence (section 3.4)


class Engine:
    """The UCM: feed(data, now) / poll(now) like LinkLayer, plus submit() for commands
    and status() for what the firmware shows. unix_time() returns the UTC time in Unix
    seconds, or None while it is unknown."""

    def __init__(self, settings=None, unix_time=None, now=0):
        self.s = settings or Settings()
        self.c = {}
        for k in COUNTERS:
            self.c[k] = 0
        self.link = LinkLayer(self.s, self.c, self)
        self.unix_time = unix_time or (lambda: None)
        self.boot = now
        self.state = "down"  # link state: down / negotiating / up
        self.upstream = True  # the owner's network, reported as comm status
        self.op_state = None
        self.op_state_at = None
        self.override = None
        self.info = None  # GetInformation reply fields
        self.info_msg = self.energy_msg = None  # the replies, for named views
        self.info_at = None
        self.energy = None  # commodity records
        self.energy_at = None
        self.event = None
        self.last_nak = None
        self.trace = None  # callable(dir, data, ms since start, note): a live trace
        self._log = [None] * self.s.log_size
        self._log_n = 0
        self._timers = {"startup": now}
        self._fails = 0
        self._polls = {}  # kind -> Tx still in flight, so polls never pile up
        self._step = 0

    # --- the sans-IO surface the runner drives
    def feed(self, data, now, count=-1):
        """Bytes received at now: data, or data[:count] without slicing it."""
        self.link.feed(data, now, count)

    def poll(self, now):
        return self.link.poll(now)

    def next_due(self, now):
        d = self.link.next_due(now)
        for t in self._timers.values():
            d = min(d, max(0, ticks_diff(t, now)))
        return d

    # --- timers
    def _set(self, name, now, ms):
        if ms > 0:
            self._timers[name] = ticks_add(now, ms)
        else:
            self._timers.pop(name, None)

    def _due(self, name, now):
        t = self._timers.get(name)
        if t is not None and ticks_diff(now, t) >= 0:
            del self._timers[name]
            return True
        return False

    def tick(self, now):
        s = self.s
        if self.state == "down":
            if self._due("startup", now):
                self._startup(now)
        elif self.state == "up":
            if self._due("heartbeat", now):
                self._set("heartbeat", now, s.heartbeat_ms)
                self._poll("comm_status", status=1 if self.upstream else 0)
            if self._due("state", now):
                self._set("state", now, s.poll_state_ms)
                self._poll("op_state_query")
            if self._due("energy", now):
                self._set("energy", now, s.poll_energy_ms)
                if self.link.peer_types.get(MT_INTERMEDIATE):
                    self._poll("commodity_read")
            if self._due("confirm", now):
                self._poll("op_state_query")
        ev = self.event
        if ev and ev["encoded_s"] and ticks_diff(now, ev["start"]) >= ev["encoded_s"] * 1000:
            self.event = None  # the event has run its course: see what the SGD says now
            if self.state == "up":
                self._poll("op_state_query")

    # --- link state and start-up (section 3.4)
    def _startup(self, now):
        self.state = "negotiating"
        self.c["startups"] += 1
        self._step = 0
        self._next_step(None)

    def _next_step(self, tx):
        if tx is not None and tx.kind == "mtsq" and tx.frame[1] == 1 and tx.result == "no_ack":
            self._down(self.link._now)  # nobody answers the Basic DR query
            return
        while self._step < _STARTUP:
            i = self._step
            self._step += 1
            pt = self.link.peer_types
            if i < 3:
                t = self._request("mtsq", encode("type_supported_query", mt=_TYPE_NAMES[i][0]), None)
            elif i == 3 and pt.get(MT_DATALINK):
                t = self._request("max_payload_query", encode("max_payload_query"), (MT_DATALINK, 0x19, None))
            elif i == 4:
                t = self._basic("comm_status", 1 if self.upstream else 0)
            elif i == 5:
                t = self._basic("op_state_query", 0)
            elif i == 6 and pt.get(MT_INTERMEDIATE):
                t = self._request("refresh_info", encode("get_information"), (MT_INTERMEDIATE, 1, 0x81))
            elif i == 7 and pt.get(MT_INTERMEDIATE):
                t = self._request("refresh_energy", encode("commodity_read"), (MT_INTERMEDIATE, 6, 0x80))
            else:
                continue
            t.callbacks.append(self._next_step)
            return
        if self.state == "negotiating":
            self._up(self.link._now)

    def _up(self, now):
        s = self.s
        self.state = "up"
        self._set("heartbeat", now, s.heartbeat_ms)
        self._set("state", now, s.poll_state_ms)
        self._set("energy", now, s.poll_energy_ms)

    def _down(self, now):
        if self.state != "down":
            self.c["link_downs"] += 1
        self.state = "down"
        self._fails = 0
        for k in ("heartbeat", "state", "energy", "confirm"):
            self._timers.pop(k, None)
        self._set("startup", now, self.s.startup_retry_ms)
        self.link.drop_queued("link_down", "the link to the SGD is down")

    def on_idle_reset(self, now):
        self._down(now)
        self._set("startup", now, self.s.t_im_ms)

    # --- requests
    def _request(self, kind, frame, expect):
        tx = Tx(kind, frame, expect)
        tx.callbacks.append(self._on_done)
        return self.link.request(tx)

    def _basic(self, name, op2, kind=None):
        f = encode(name, **{_field(name): op2})
        exp = (MT_BASIC, 0x13, None) if name == "op_state_query" else (MT_BASIC, 3, f[4])
        return self._request(kind or name, f, exp)

    def _poll(self, kind, **kw):
        t = self._polls.get(kind)
        if t is not None and not t.done:
            return t
        if kind == "commodity_read":
            t = self._request("refresh_energy", encode("commodity_read"), (MT_INTERMEDIATE, 6, 0x80))
        else:
            t = self._basic(kind, kw.get("status", 0))
        self._polls[kind] = t
        return t

    def _on_done(self, tx):
        now = self.link._now
        r = tx.result
        if r == "no_ack":
            self._fails += 1
            self.c["requests_failed"] += 1
            if self._fails >= self.s.down_after_failures and self.state == "up":
                self._down(now)
            return
        if r == "reply" and tx.expect[0] == MT_INTERMEDIATE and tx.reply.fields.get("rc"):
            r = tx.result = "rc_error"
            tx.reason = tx.reply.fields["rc"]
        if r == "app_nak":
            tx.reason = tx.reply.op2
            self.last_nak = (tx.kind, tx.reason, now)
        if r in ("ack", "reply", "app_nak", "link_nak", "rc_error"):
            self._fails = 0
        self.c["requests_ok" if r in ("ack", "reply") else "requests_failed"] += 1
        if tx.kind == "mtsq" and r in ("ack", "link_nak"):
            self.link.peer_types[tx.frame[0] << 8 | tx.frame[1]] = r == "ack"
        x = tx.extra  # set for the DR commands with a duration (ucm.commands)
        if r == "ack" and (x or tx.kind == "end"):
            # the SGD took a DR command or its end
            self.event = None
            if x:
                self.event = {
                    "kind": tx.kind,
                    "requested_s": x["requested_s"],
                    "code": tx.frame[5],
                    "encoded_s": basic.duration_seconds(tx.frame[5]),
                    "start": now,
                    "started_unix": self.unix_time(),
                }
            self._set("confirm", now, self.s.confirm_state_ms)

    def submit(self, kind, args=None):
        """Queue a command of the owner (kinds and arguments: ucm.commands) and return its
        Tx; tx.done / tx.result tell the outcome. Bad arguments raise ValueError."""
        from ucm.commands import check, frame

        f, extra = frame(kind, check(kind, args), (self.info or {}).get("device_type", 0))
        mt = f[0] << 8 | f[1]
        exp = (MT_BASIC, 3, f[4]) if mt == MT_BASIC else (MT_INTERMEDIATE, f[4], f[5] | 0x80)
        tx = Tx(kind, f, exp)
        tx.extra = extra
        tx.callbacks.append(self._on_done)
        if self.state == "down":
            tx.finish("link_down", "the link to the SGD is down")
            return tx
        why = self.link.allowed(tx) if self.state == "up" else None
        if why:
            tx.finish("unsupported", why)
            return tx
        return self.link.request(tx)

    def set_upstream(self, ok):
        """The owner's network came or went: tell the SGD at once (0E 01 / 0E 00)."""
        ok = bool(ok)
        if ok != self.upstream:
            self.upstream = ok
            if self.state == "up":
                self._basic("comm_status", 1 if ok else 0)

    # --- what the SGD sends (section 3.4, "Unsolicited SGD messages")
    def on_message(self, msg, now, solicited):
        mt = msg.mt
        n = msg.name  # the codec's name of the message (cta2045.message)
        op1 = msg.op1
        op2 = msg.op2
        s = self.s
        if self.state == "down" and ticks_diff(self._timers.get("startup", now), now) > s.hold_after_sgd_ms:
            self._set("startup", now, s.hold_after_sgd_ms)  # the SGD is back: negotiate soon
        if mt == MT_BASIC:
            if n == "op_state":
                if self.op_state != op2:
                    self.op_state_at = now
                self.op_state = op2
                if not solicited and s.app_ack_op_state:
                    self._app_ack(op1)
                return 0
            if n == "customer_override":
                self.override = op2 == 1
            if n == "customer_override" or n == "sleep" or n == "wake":
                self._app_ack(op1)
                return 0
            if n == "app_nak":
                self.c["app_naks_in"] += 1
            if n == "app_ack" or n == "app_nak":
                return 0
            if s.unsupported_basic:
                return s.unsupported_basic
            self.link.respond(encode("app_nak", reason=1), s.t_ar_ms)
            return 0
        if mt == MT_INTERMEDIATE:
            if msg.reply:
                if n == "get_information" and not msg.fields.get("rc"):
                    self.info = msg.fields
                    self.info_msg = msg
                    self.info_at = now
                elif n == "commodity_read" and not msg.fields.get("rc"):
                    self.energy = msg.fields.get("records", [])
                    self.energy_msg = msg
                    self.energy_at = now
                return 0
            pm = self.link.peer_max
            if msg.name == "get_information" and s.answer_info and pm >= 16:
                self.link.respond(self._my_info(pm), s.t_ar_ms, "info_reply")
                return 0
            if msg.name == "utc_time" and len(msg.payload) == 2 and pm >= 9:
                t = self.unix_time()
                if t is None:
                    f = encode("utc_time", reply=True, rc=s.utc_unknown_rc)
                else:
                    f = encode("utc_time", reply=True, rc=0, utc=t - basic.EPOCH_2000, tz=0, dst=0)
                self.link.respond(f, s.t_ar_ms, "utc_reply")
                return 0
            return 7
        # data-link (section 2.6)
        if n == "max_payload_query":
            f = encode("max_payload", code=s.max_payload_code)
            self.link.respond(f, s.max_payload_reply_ms, "max_payload")
            return 0
        if n == "max_payload":  # only as the answer to our 0x18: one stray frame sets no limit
            size = max_payload(op2)
            if solicited and size:
                self.link.peer_max = size
            return 0
        if n == "bit_rate" and op2 == 0:
            return 0  # 19200 baud: what we run at already
        return 7

    def _app_ack(self, op1):
        self.link.respond(encode("app_ack", opcode=op1), self.s.t_ar_ms, "app_ack")

    def _my_info(self, peer_max):
        # GetInformation about the UCM: the 16-byte mandatory part, or all 53 bytes
        # when the SGD takes them (section 4.2)
        f = {"rc": 0, "version": "B", "vendor_id": 0, "device_type": self.s.ucm_device_type}
        f.update(revision=0, capability=0, reserved=0)
        if peer_max >= 53:
            y, m, d = RELEASED
            v = __version__.split(".")
            f.update(model="MicroPython UCM", serial="", fw_year=y - 2000, fw_month=m - 1, fw_day=d)
            f.update(fw_major=int(v[0]), fw_minor=int(v[1]))
        return encode("get_information", reply=True, **f)

    # --- the frame log and the live trace
    def on_wire(self, d, data, now, note):
        # data is already a copy of its own (the reader's event copy, or a built frame)
        self._log[self._log_n % len(self._log)] = (d, now, data, note)
        self._log_n += 1
        if self.trace:
            self.trace(d, data, ticks_diff(now, self.boot), note)

    def frames(self, n, now):
        """The last n frames, oldest first, decoded where possible, as a list."""
        return list(self.log_rows(n))

    def log_rows(self, n):
        """The same frames one at a time (the API streams them). Read lazily: a frame
        overwritten in the ring while the rows are being read is left out."""
        size = len(self._log)
        n = min(n, size, self._log_n)
        for i in range(self._log_n - n, self._log_n):
            if i < self._log_n - size:
                continue  # overwritten meanwhile
            d, t, data, note = self._log[i % size]
            try:
                m = decode(data).to_dict() if data else None
            except Exception:
                m = None
            yield {"dir": d, "t_ms": ticks_diff(t, self.boot), "hex": data.hex(), "msg": m, "note": note}

    # --- the state the firmware shows
    def status(self, now):
        from cta2045.names import name

        def age(t):
            return None if t is None else ticks_diff(now, t) / 1000

        lk = self.link
        ev = self.event
        if ev:
            el = ticks_diff(now, ev["start"]) // 1000
            e = {}
            for k in ("kind", "requested_s", "code", "encoded_s", "started_unix"):
                e[k] = ev[k]
            e["elapsed_s"] = el
            e["remaining_s"] = None if not ev["encoded_s"] else max(0, ev["encoded_s"] - el)
            ev = e
        nak = self.last_nak
        if nak:
            nak = {"request": nak[0], "reason": name("reason", nak[1]) or nak[1], "code": nak[1], "age_s": age(nak[2])}
        pt = {}
        for mt, k in _TYPE_NAMES:
            pt[k] = lk.peer_types.get(mt)
        ops = None
        if self.op_state is not None:
            ops = {"code": self.op_state, "name": name("state", self.op_state), "age_s": age(self.op_state_at)}
        health, why = lk.health()
        return {
            "uptime_s": ticks_diff(now, self.boot) // 1000,
            "link": {
                "state": self.state,
                "health": health,  # ok, flooded or no_answer
                "health_why": why,
                "peer_types": pt,
                "peer_max_payload": lk.peer_max,
                "last_rx_age_s": age(lk.last_rx),
            },
            "sgd": {
                "op_state": ops,
                "override": self.override,
                "info_age_s": age(self.info_at),
                "energy_age_s": age(self.energy_at),
            },
            "event": ev,
            "last_app_nak": nak,
            "upstream": self.upstream,
            "counters": self.counters(),
        }

    def counters(self):
        c = dict(self.c)
        c["junk_bytes"] = self.link.reader.junk_bytes
        return c

    def result(self, tx):
        """The JSON-able outcome of a finished command (see the README's HTTP API)."""
        from cta2045.names import name

        r = {"result": tx.result, "request": tx.kind, "attempts": tx.attempts}
        if tx.attempts:
            r["sent"] = tx.frame.hex()
        reason = tx.reason
        if type(reason) is int:
            reason = name({"app_nak": "reason", "rc_error": "rc"}.get(tx.result, "nak"), reason) or reason
        if reason is not None:
            r["reason"] = reason
        if tx.reply is not None:
            r["reply"] = tx.reply.to_dict()
        if tx.extra:
            r["duration_code"] = tx.extra["duration_code"]
            r["encoded_s"] = tx.extra["encoded_s"]
        return r


def _field(name):
    return {"comm_status": "status", "power_level": "power", "grid_guidance": "guidance"}.get(name, "op2")
