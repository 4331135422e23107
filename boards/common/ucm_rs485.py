# RS-485 half-duplex byte port on a machine.UART (8N1, 19200 baud for CTA-2045), shared
# by the device boards. Transmit: DE/RE raised, the frame written, then DE dropped only
# after the last stop bit has left the pin. Receive: through an asyncio stream over the
# UART, so a task waits for bytes without polling and never blocks the loop.
# Transceivers:
#   "de"   a MAX3485/SP3485-class part; DE and /RE tied to one GPIO (receiver off while
#          sending, so no echo)
#   "auto" an auto-direction part (no DE pin): the receiver hears our own frame, which
#          is discarded byte by byte as it comes back
# Port contract (lib/ucm/runner.py): async recv_into(buf) -> n > 0, async write(data).

import asyncio
import sys

from ucm.clock import sleep_us, ticks_add, ticks_diff, ticks_ms

# The UART's receive ring, filled by the port's interrupt handler while the event loop
# is busy. 8N1 at 19200 baud is 1920 bytes/s: a 100 ms stall of the loop needs 192 B;
# 1024 B covers 530 ms.
RX_BUFFER = 1024
ECHO_SLACK_MS = 50  # an echo still missing this long after its frame was sent is dropped


def char_us(baud):
    """Microseconds one 8N1 character (start, 8 data, stop) takes on the wire."""
    return 10 * 1000000 // baud


def rx_buffer(baud, stall_ms=100):
    """Bytes that arrive at line rate during a stall of stall_ms."""
    return (baud // 10) * stall_ms // 1000


class _PolledStream:
    # CPython stand-in for MicroPython's asyncio stream over a UART (CPython's asyncio
    # cannot wrap a MicroPython-style stream object): waits by polling uart.any().
    def __init__(self, uart):
        self.u = uart

    async def readinto(self, buf):
        while not self.u.any():
            await asyncio.sleep(0.002)
        return self.u.readinto(buf) or 0


def stream(uart):
    """An object with async readinto(buf) over the UART."""
    if sys.implementation.name == "micropython":
        s = asyncio.StreamReader(uart)
        if hasattr(s, "readinto"):  # MicroPython >= 1.21
            return s
    return _PolledStream(uart)


class Rs485Port:
    def __init__(self, uart, de=None, baud=19200, echo=False, early_flush=False, reader=None):
        """uart: a machine.UART (timeout=0, rxbuf >= rx_buffer(baud)). de: the DE/RE Pin,
        or None for an auto-direction transceiver. echo: our own frames come back and
        are discarded. early_flush: the port's flush() returns while the last character
        is still in the shift register (ESP32): wait one more character time."""
        self.uart = uart
        self.de = de
        self.char_us = char_us(baud)
        self.early_flush = early_flush
        self.reader = reader or stream(uart)
        self.echo = echo
        self._echo = bytearray(0)  # what we sent and have not heard back yet
        self._echo_i = 0
        self._echo_until = 0
        self.rx_bytes = 0
        self.tx_bytes = 0
        self.echo_errors = 0  # an echo byte differed (a collision) or never came
        if de is not None:
            de.value(0)

    async def write(self, data):
        # One non-yielding sequence: no other task can run between the last stop bit and
        # DE going low, so the line is free well before the SGD's earliest answer
        # (T_MA >= 40 ms). The loop is held for the frame's wire time: 0.52 ms a byte
        # at 19200 baud (32 ms for a 61-byte GetInformation answer).
        de = self.de
        if de is not None:
            de.value(1)
        self.uart.write(data)
        self.uart.flush()  # rp2: returns after the stop bit (TX FIFO empty, not BUSY)
        if self.early_flush:
            sleep_us(self.char_us)
        if de is not None:
            de.value(0)
        self.tx_bytes += len(data)
        if self.echo:
            self._echo = bytes(data)
            self._echo_i = 0
            self._echo_until = ticks_add(ticks_ms(), len(data) * self.char_us // 1000 + ECHO_SLACK_MS)

    async def recv_into(self, buf):
        """Wait for bytes; copy them into buf; return how many (> 0)."""
        while True:
            n = await self.reader.readinto(buf)
            if not n:
                continue
            self.rx_bytes += n
            if self._echo_i < len(self._echo):
                n = self._drop_echo(buf, n)
            if n:
                return n

    def _drop_echo(self, buf, n):
        # Our own frame coming back: drop it while it matches, in order. A late or
        # differing byte ends the echo; from there on the bytes are the peer's.
        e = self._echo
        i = self._echo_i
        if ticks_diff(ticks_ms(), self._echo_until) > 0:
            self.echo_errors += 1
            self._echo = bytearray(0)
            return n
        k = 0
        while k < n and i < len(e) and buf[k] == e[i]:
            k += 1
            i += 1
        if k < n and i < len(e):
            self.echo_errors += 1
            i = len(e)
        self._echo_i = i
        if k:
            buf[: n - k] = buf[k:n]
        return n - k

    def close(self):
        if self.de is not None:
            self.de.value(0)
        self.uart.deinit()
