# The 9-bit bus on the ESP32's UART, which has no 9th data bit in MicroPython. The UART
# runs 8 data bits + parity + 1 stop, so it frames the bus's 11-bit characters with the
# 9th bit in the parity bit's place.
#   Receive: the 9th bit cannot be seen (parity errors never reach Python), so the
#     reader runs in its plain mode: frames found by first byte, length and checksum,
#     plus an idle gap (config ninebit_gap_ms).
#   Send: per byte, even or odd parity is chosen so that the parity bit equals the 9th
#     bit (1 on the first byte only). The ESP32's init(parity=) waits for the
#     transmitter to finish, so each change (wherever the next byte needs the other
#     parity: about every other byte) leaves a gap between characters. A receiver that
#     times frames by gaps may split them; the bus's own framing is by the 9th bit.
# Port contract (firmware/ucm_ninebit_bus.py): async recv_into(buf), async write_frame(frame).

from ninebit.frame import parity_for
from ucm_rs485 import stream
from ucm.clock import sleep_us

CHAR_BITS = 11


class Uart9Port:
    def __init__(self, uart, de=None, baud=19200, reader=None):
        self.uart = uart
        self.de = de
        self.char_us = CHAR_BITS * 1000000 // baud
        self.reader = reader or stream(uart)
        self.parity = 0  # the UART's setting now: 0 even, 1 odd
        self._one = bytearray(1)
        self.rx_bytes = 0
        if de is not None:
            de.value(0)

    async def recv_into(self, buf):
        while True:
            n = await self.reader.readinto(buf)
            if n:
                self.rx_bytes += n
                return n

    async def write_frame(self, frame):
        """The frame with the 9th bit set on its first byte. Blocks the loop for the
        frame's wire time plus the parity changes (DE must drop right after the last
        stop bit)."""
        u = self.uart
        one = self._one
        if self.de is not None:
            self.de.value(1)
        for i in range(len(frame)):
            b = frame[i]
            p = parity_for(b, 1 if i == 0 else 0)
            if p != self.parity:
                u.init(parity=p)  # waits for the previous byte to leave
                self.parity = p
            one[0] = b
            u.write(one)
        u.flush()
        sleep_us(self.char_us)  # the ESP32's flush returns one character early
        if self.de is not None:
            self.de.value(0)

    def close(self):
        if self.de is not None:
            self.de.value(0)
        self.uart.deinit()
