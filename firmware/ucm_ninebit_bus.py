# The firmware's side of the 9-bit bus (lib/ninebit): a listener that feeds the reader from
# the board's 9-bit port, keeps the last frames, the rejected ones and the parameter table,
# and, in the "ninebit" personality only, sends frames the API gives. Ports (boards/): async
# recv_symbols(buf) -> n symbols (byte | FLAG) into an array of 16-bit words (RP2040 PIO; the
# host board's Linux capture stream too), or async recv_into(buf) -> n bytes without the 9th
# bit (ESP32; the reader's plain mode). Sending: async write_frame(frame) sets the 9th bit on
# the first byte; a port without it cannot send.

import array
import asyncio

from ninebit.frame import BLOCK, describe, valid
from ninebit.params import ParamTable
from ninebit.reader import Reader
from ucm.clock import sleep_ms, ticks_diff, ticks_ms


class NineBitBus:
    def __init__(self, port, transmit=False, log_size=64, gap_ms=10, clock=ticks_ms):
        self.port = port
        self.transmit = transmit and hasattr(port, "write_frame")
        self.clock = clock
        self.boot = clock()
        self.plain = not hasattr(port, "recv_symbols")
        self.reader = Reader(self._on_frame, self._on_error, flagged=not self.plain, gap_ms=gap_ms)
        self.params = ParamTable()
        self._log = [None] * log_size
        self._n = 0
        self.sent = 0
        self.loops = 0  # the supervisor's sign of progress
        self.first_valid = None  # time of the first checksum-valid frame

    def _keep(self, entry):
        self._log[self._n % len(self._log)] = entry
        self._n += 1

    def _on_frame(self, f, now):
        if self.first_valid is None:
            self.first_valid = now
        self.params.update(f, ticks_diff(now, self.boot))
        self._keep(("rx", now, f, None))

    def _on_error(self, kind, data, now):
        if data:
            self._keep(("rx", now, data, kind))

    async def run(self):
        p = self.port
        clock = self.clock
        if hasattr(p, "recv_symbols"):
            buf = array.array("H", bytes(128))
            while True:
                n = await p.recv_symbols(buf)
                self.loops += 1
                self.reader.feed_symbols(buf, clock(), n)
        buf = bytearray(128)
        while True:  # no 9th bit
            n = await p.recv_into(buf)
            self.loops += 1
            self.reader.feed(buf, clock(), n)

    def frames(self, n=50):
        """The last n frames, oldest first: received ones decoded, rejected ones with
        the reason, sent ones."""
        size = len(self._log)
        n = min(n, size, self._n)
        out = []
        for i in range(self._n - n, self._n):
            d, t, data, error = self._log[i % size]
            e = describe(data)
            e["dir"] = d
            e["t_ms"] = ticks_diff(t, self.boot)
            if error:
                e["error"] = error
            out.append(e)
        return out

    def status(self):
        r = self.reader
        return {
            "frames": r.frames,
            "errors": dict(r.errors),
            "sent": self.sent,
            "transmit": self.transmit,
            "mode": "plain" if self.plain else "flagged",
            "params": len(self.params.values),
            "changes": len(self.params.log),
        }

    async def send(self, frame, force=False):
        """Send a caller's frame. Raises ValueError(field: why) when it is refused."""
        if not self.transmit:
            raise ValueError("frame: sending needs the bus personality ninebit on a board that can send")
        if len(frame) < 2 or not valid(frame):
            raise ValueError("frame: the last byte must be the 8-bit sum of the others")
        if frame[0] == BLOCK and not force:
            raise ValueError("frame: 0x40 block frames are the master's broadcasts; send one only with force")
        await self.port.write_frame(frame)
        self.sent += 1
        self._keep(("tx", self.clock(), bytes(frame), None))


async def detect(port, seconds, clock=ticks_ms, want=2, feed=None):
    """Auto personality: listen on the 9-bit port for up to `seconds`. Returns (True,
    why) when `want` checksum-valid frames arrive (flagged ones where the port sees the
    9th bit), else (False, why). feed: called as it listens (the watchdog's feed)."""
    bus = NineBitBus(port, clock=clock)
    task = asyncio.create_task(bus.run())
    t0 = clock()
    try:
        while ticks_diff(clock(), t0) < seconds * 1000:
            if bus.reader.frames >= want:
                return True, "%d valid %s frames in %d ms" % (
                    bus.reader.frames,
                    "plain" if bus.plain else "flagged",
                    ticks_diff(clock(), t0),
                )
            if feed:
                feed()
            await sleep_ms(50)
    finally:
        task.cancel()
    return False, "no valid 9-bit frames in %d s" % seconds
