# The asyncio driver of the engine: one task moves bytes between a byte port and the
# Engine and runs its timers; commands from the HTTP layer are awaited here.
# A byte port has async write(data) and either readinto(buf) -> int (non-blocking, 0
# when nothing is there; run() polls it) or async recv_into(buf) -> int > 0 (a stream:
# receive() waits on it in its own task); boards/ provide them (UART, tty), tools/ has
# in-memory ones.

import asyncio

from ucm.clock import sleep_ms, ticks_diff, ticks_ms
from ucm.engine import Engine


class Ucm:
    """The engine on a port. run() never returns; call() sends a command and waits for
    its outcome; status()/info()/energy()/frames() read the SGD's state."""

    def __init__(self, port, settings=None, unix_time=None, trace=None, step_ms=4, clock=ticks_ms):
        self.port = port
        self.clock = clock
        self.engine = Engine(settings, unix_time, clock())
        self.engine.trace = trace
        self.step_ms = step_ms  # port poll period; well inside T_MA (40 ms)
        self._buf = bytearray(256)
        self.polls = 0  # loop passes: the watchdog supervisor's sign of progress
        self.runs = 0  # times run() was started
        self.received = 0  # bytes from a stream port
        self.rx_loops = 0  # reads handled by receive()
        self.rx_parked = False  # receive() is waiting for bytes

    async def run(self):
        e = self.engine
        buf = self._buf
        clock = self.clock
        polled = not hasattr(self.port, "recv_into")
        if self.runs:  # started again by the supervisor: drop what the link owed
            e.link.restart()
        self.runs += 1
        while True:
            n = self.port.readinto(buf) if polled else 0
            if n:
                e.feed(buf, clock(), n)  # no slice: nothing allocated per read
            for f in e.poll(clock()):
                await self.port.write(f)
            self.polls += 1
            # a full read: more may be waiting, but the loop's other tasks go first
            await sleep_ms(0 if n == len(buf) else min(self.step_ms, e.next_due(clock())))

    async def receive(self):
        """For a stream port: wait for bytes and hand them to the engine (run() sends
        what the engine answers). Runs beside run(), as its own task. No timeout on the
        wait: a timed wait would allocate a task per read on MicroPython."""
        buf = bytearray(256)
        e = self.engine
        while True:
            self.rx_parked = True
            n = await self.port.recv_into(buf)
            self.rx_parked = False
            self.rx_loops += 1
            e.feed(buf, self.clock(), n)
            self.received += n
            if n == len(buf):
                await sleep_ms(0)  # a flood: let the loop's other tasks run between reads

    def rx_progress(self):
        """For the watchdog supervisor: the reads handled, or None while the reader is
        parked waiting for bytes (a quiet line: as alive as the loop that will wake it)."""
        return None if self.rx_parked else self.rx_loops

    async def call(self, kind, args=None, **kw):
        """Queue a command (see Engine.submit; its arguments as a dict or as keywords) and
        wait for its result dict. Bad arguments raise ValueError before anything is queued."""
        tx = self.engine.submit(kind, kw if args is None else args)
        if not tx.done:
            ev = asyncio.Event()
            tx.callbacks.append(lambda t: ev.set())
            s = self.engine.s
            # the engine always finishes a request; this only guards against a stalled loop
            limit = (s.max_attempts * (s.retry_gap_ms + s.ack_timeout_ms) + s.reply_timeout_ms) / 1000 + 60
            try:
                await asyncio.wait_for(ev.wait(), limit)
            except asyncio.TimeoutError:
                tx.finish("timeout", "no outcome from the engine")
        return self.engine.result(tx)

    def status(self):
        return self.engine.status(self.clock())

    def info(self):
        """The SGD's last GetInformation reply, with names (None before the first)."""
        m = self.engine.info_msg
        return None if m is None else m.to_dict()["fields"]

    def energy(self):
        """The SGD's last commodity records, with names, and their age in seconds."""
        e = self.engine
        if e.energy_msg is None:
            return None
        return {
            "records": e.energy_msg.to_dict()["fields"]["records"],
            "age_s": ticks_diff(self.clock(), e.energy_at) / 1000,
        }

    def frames(self, n=50):
        return self.engine.frames(n, self.clock())

    def log_rows(self, n=50):
        """frames(n) one at a time (a generator)."""
        return self.engine.log_rows(n)

    def set_upstream(self, ok):
        self.engine.set_upstream(ok)
