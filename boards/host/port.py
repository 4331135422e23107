# A byte port over a tty path on a PC: a USB RS-485 adapter (/dev/ttyUSB0) or one end of
# a pseudo-terminal pair. Uses only open() and select.poll, which MicroPython's unix port
# has too; the line settings (19200 8N1, raw) are made by whoever starts the firmware
# (tools/sim.py), because neither termios nor pyserial is there under MicroPython.

import select

from ucm.clock import sleep_ms


class TtyPort:
    def __init__(self, path):
        self.path = path
        self.f = open(path, "r+b", buffering=0)
        self.p = select.poll()
        self.p.register(self.f, select.POLLIN)
        self._one = bytearray(1)  # one byte at a time, nothing allocated per read
        # MicroPython's ipoll() hands back one reused entry (poll() builds a list each
        # time); CPython has only poll()
        self._ready = getattr(self.p, "ipoll", self.p.poll)
        self.errors = 0  # read/write errors (the other end went away, adapter unplugged)

    def readinto(self, buf):
        """Non-blocking: bytes now waiting, copied into buf; 0 when none. One byte per
        POLLIN: on MicroPython a file's readinto() waits until the whole buffer is
        filled, and POLLIN promises only one byte (CPython would return what is
        there). At 19200 baud that is 1920 reads a second at most."""
        n = 0
        one = self._one
        try:
            while n < len(buf) and self._waiting():
                if not self.f.readinto(one):
                    break
                buf[n] = one[0]
                n += 1
        except OSError:
            self.errors += 1
        return n

    def _waiting(self):
        for ev in self._ready(0):
            return bool(ev[1] & select.POLLIN)
        return False

    async def write(self, data):
        mv = memoryview(data)
        try:
            while len(mv):
                n = self.f.write(mv)
                mv = mv[n or 0 :]
        except OSError:
            self.errors += 1

    def close(self):
        self.f.close()


class CapturePort:
    """The 9-bit bus on a PC: a tty that delivers a Linux PARMRK capture stream (set up
    by whoever starts the firmware: space parity, PARMRK; tools/ports.py), read as the
    symbols (byte | FLAG) of NineBitBus's recv_symbols, polled every 5 ms."""

    def __init__(self, path):
        from ninebit.capture import Unescaper

        self.tty = TtyPort(path)
        self.un = Unescaper()
        self._buf = bytearray(128)
        self._syms = []

    async def recv_symbols(self, out):
        """Wait for bytes, then put their symbols into out (at most len(out) bytes are
        read, and a symbol takes at least one byte); returns how many."""
        buf = memoryview(self._buf)[: min(len(out), len(self._buf))]
        syms = self._syms
        while True:
            n = self.tty.readinto(buf)
            if n:
                del syms[:]
                self.un.feed(buf[:n], syms)
                for i in range(len(syms)):
                    out[i] = syms[i]
                if syms:
                    return len(syms)
            else:
                await sleep_ms(5)

    def close(self):
        self.tty.close()
