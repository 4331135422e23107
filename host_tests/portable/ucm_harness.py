# A fake-clock bench for the UCM engine: the Engine (sans-IO) and a scripted SGD joined
# by a wire that delivers each frame wire-time after it starts. Time jumps from event
# to event, so hours of protocol run in milliseconds, on CPython and on MicroPython.

from cta2045.frame import ACK, EV_ACK, EV_FRAME, EV_NAK, FrameReader, nak
from cta2045.message import decode, encode
from ucm.engine import Engine
from ucm.settings import Settings

# What the scripted SGD remembers: got and sent keep at least the last KEEP entries
# (the older ones are dropped in one go at 2 * KEEP, before the list would grow), so
# that a run of simulated days holds a bounded heap, as the engine itself does
# (test_long_run.py checks both).
KEEP = 256


def history(keep=KEEP):
    """An empty list with room for 2 * keep entries: it never grows after this (on
    MicroPython a list keeps its allocation when emptied or cut), so a long run does
    not need ever larger blocks of a fragmented heap."""
    log = [None] * (2 * keep)
    del log[:]
    return log


def _record(log, entry, keep):
    if len(log) >= 2 * keep:
        del log[:keep]  # in place
    log.append(entry)


def wire_ms(n):
    return (n * 10000 + 19199) // 19200


class Sgd:
    """A scripted water heater: link-ACKs after ack_ms, answers MTSQs for `types`, the
    max-payload query with max_code, Basic commands with an App ACK (or app_nak) after
    reply_ms, op-state queries with `state`, GetInformation and commodity reads. Knobs:
    silent, naks (codes to answer with instead of ACKs, in order), no_reply. got and
    sent hold the last `keep` entries at least."""

    def __init__(self, keep=KEEP):
        self.keep = keep
        self.ack_ms = 15
        self.reply_ms = 250
        self.types = (0x0801, 0x0802, 0x0803)
        self.max_code = 5  # 64 bytes
        self.state = 0
        self.app_nak = None
        self.silent = False
        self.naks = []
        self.no_reply = False
        self.got = history(keep)  # (t, bytes) everything the UCM sent, ACK/NAKs included
        self.sent = history(keep)  # (t, bytes) everything the SGD sent
        self.out = []  # (t, bytes) scheduled
        self.t = 0
        self.reader = FrameReader(self._ev)

    def forget(self):
        """Empty got and sent (keeping their room)."""
        del self.got[:]
        del self.sent[:]

    def frames(self):
        """Frames (not ACK/NAKs) the UCM sent, as bytes."""
        return [b for t, b in self.got if len(b) > 2]

    def at(self, t, data):
        # queued by the time its last byte arrives at the UCM, after any queued no later
        # (in place: a sort with a key would allocate a list of keys at every frame)
        due = t + wire_ms(len(data))
        out = self.out
        i = len(out)
        while i and out[i - 1][0] > due:
            i -= 1
        out.insert(i, (due, data))

    def receive(self, t, data):
        self.t = t
        self.reader.feed(data, t)

    def _ev(self, ev, v):
        t = self.t
        if ev == EV_ACK or ev == EV_NAK:
            _record(self.got, (t, ACK if ev == EV_ACK else nak(v)), self.keep)
            return
        if ev != EV_FRAME:
            return
        f = bytes(v)
        _record(self.got, (t, f), self.keep)
        if self.silent:
            return
        if self.naks:
            self.at(t + self.ack_ms, nak(self.naks.pop(0)))
            return
        mt = f[0] << 8 | f[1]
        if len(f) == 6:
            self.at(t + self.ack_ms, ACK if mt in self.types else nak(6))
            return
        if mt not in self.types:
            self.at(t + self.ack_ms, nak(6))
            return
        m = decode(f)
        if m.reply or m.name in ("app_ack", "app_nak", "max_payload"):
            self.at(t + self.ack_ms, ACK)
            return
        reply = self.answer(m)
        if reply is None:
            self.at(t + self.ack_ms, nak(7))
            return
        self.at(t + self.ack_ms, ACK)
        if not self.no_reply and reply:
            self.at(t + self.ack_ms + self.reply_ms, reply)

    def answer(self, m):
        """The application reply to message m, b"" for none, None for NAK 07."""
        n = m.name
        if n == "max_payload_query":
            return encode("max_payload", code=self.max_code)
        if m.mt == 0x0801:
            if n == "op_state_query":
                return encode("op_state", state=self.state)
            if self.app_nak is not None:
                return encode("app_nak", reason=self.app_nak)
            return encode("app_ack", opcode=m.op1)
        if n == "get_information":
            return encode(
                "get_information",
                reply=True,
                rc=0,
                version="A",
                vendor_id=0x0C22,
                device_type=3,
                revision=1,
                capability=0,
                reserved=0,
            )
        if n == "commodity_read":
            recs = [{"code": 0, "measured": True, "rate": 450, "cumulative": 0}]
            recs.append({"code": 6, "measured": False, "rate": 0, "cumulative": 12011})
            return encode("commodity_read", reply=True, rc=0, records=recs)
        if n == "setpoint":
            return encode("setpoint", reply=True, rc=0, device_type=3, temp_units=0, setpoint1=125)
        if n == "advanced_load_up":
            return encode("advanced_load_up", reply=True, rc=0)
        return None


class Bench:
    """Engine + Sgd on a fake clock. run(ms) advances time; sgd.got has what the UCM
    sent with its times; send(data) injects bytes from the SGD side now."""

    def __init__(self, sgd=None, unix=None, max_step_ms=1000, **settings):
        self.now = 0
        self.max_step_ms = max_step_ms  # longest jump of the clock between polls
        self.unix = unix
        self.sgd = sgd or Sgd()
        self.e = Engine(Settings(**settings), lambda: self.unix, 0)

    def send(self, data, at=None):
        self.sgd.at(self.now if at is None else at, data)

    def _deliver(self):
        s = self.sgd
        while s.out and s.out[0][0] <= self.now:
            t, data = s.out.pop(0)
            _record(s.sent, (t, data), s.keep)
            self.e.feed(data, t)

    def run(self, ms, until=None):
        end = self.now + ms
        while self.now <= end:
            self._deliver()
            for f in self.e.poll(self.now):
                self.sgd.receive(self.now + wire_ms(len(f)), f)
            if until is not None and until():
                return True
            nxt = self.now + max(1, min(self.e.next_due(self.now), self.max_step_ms))
            if self.sgd.out:
                nxt = min(nxt, self.sgd.out[0][0])
            self.now = max(self.now + 1, nxt) if nxt > self.now else self.now + 1
        return False

    def up(self):
        """Run the start-up sequence to link state "up"."""
        assert self.run(20000, lambda: self.e.state == "up" and self.e.link.idle()), self.e.state
        self.sgd.forget()
        return self

    def submit(self, kind, **args):
        return self.e.submit(kind, args)

    def wait(self, tx, ms=20000):
        assert self.run(ms, lambda: tx.done), "not done: " + tx.kind
        return tx
