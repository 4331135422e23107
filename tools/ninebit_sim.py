#!/usr/bin/env python3
# A simulated heater on the 9-bit bus, for `make sim BUS=ninebit-listen` and tests: a
# bus master that, every period, polls nodes 16, 12 and 2 (3-byte frames) and
# broadcasts parameter blocks (0x40 frames) modelled on the published traffic: block 0
# with tank temperatures as value/512 degrees C, block 13 with the setpoint in degrees F.
# This is our model, not a protocol description: the field meanings are hypotheses.
# Output goes to a byte port as a Linux PARMRK capture stream (what a USB adapter with
# space parity delivers), so the firmware's host board reads it like a real capture.

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from ninebit.capture import escape  # noqa: E402
from ninebit.frame import block, encode, symbols  # noqa: E402


class NineBitSim:
    def __init__(self):
        self.setpoint_f = 120
        self.mode = 3
        self.tank_c = [49.0, 45.0, 47.0, 41.0]
        self.corrupt_next = 0  # the next n frames go out with a wrong checksum
        self.silent = False

    def frames(self):
        """One round of the bus."""
        t = [int(c * 512) & 0xFFFF for c in self.tank_c]
        out = [
            encode(b"\x90\x00"),
            block(0, [0x0200] + t + [0, 0xFFFF]),
            encode(b"\x8c\x00"),
            block(8, [0, self.mode, self.setpoint_f, 0]),
            encode(b"\x82\x00"),
            block(13, [1, 60, 0, 16, self.setpoint_f, self.setpoint_f]),
        ]
        for i in range(min(self.corrupt_next, len(out))):
            f = bytearray(out[i])
            f[-1] ^= 0x5A
            out[i] = bytes(f)
        self.corrupt_next = max(0, self.corrupt_next - len(out))
        return out

    def capture(self):
        """One round as a PARMRK capture stream."""
        syms = []
        for f in self.frames():
            syms += symbols(f)
        return escape(syms)

    def command(self, line):
        """setpoint F | mode N | tank I C | corrupt N | silent on|off"""
        w = line.split()
        try:
            if w[0] == "setpoint":
                self.setpoint_f = int(w[1])
            elif w[0] == "mode":
                self.mode = int(w[1])
            elif w[0] == "tank":
                self.tank_c[int(w[1])] = float(w[2])
            elif w[0] == "corrupt":
                self.corrupt_next = int(w[1])
            elif w[0] == "silent":
                self.silent = w[1] == "on"
            else:
                raise ValueError
        except (ValueError, IndexError):
            return "commands: " + self.command.__doc__
        return "ok"


async def run(sim, port, period_ms=500):
    """Write a round every period_ms until cancelled."""
    while True:
        if not sim.silent:
            await port.write(sim.capture())
        await asyncio.sleep(period_ms / 1000)
