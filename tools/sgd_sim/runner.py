# The asyncio runner: serves a SgdSim on a byte port (tools/ports.py).

import asyncio
import time


def monotonic_ms():
    return int(time.monotonic() * 1000)


async def run(sim, port, clock=monotonic_ms, trace=None, poll_ms=2, stop=None):
    """Serve sim on a byte port until cancelled (or until the asyncio.Event stop is set):
    read what is there, feed it, write what poll() returns, every poll_ms."""
    if trace is not None:
        sim.trace = trace
    buf = bytearray(512)
    while stop is None or not stop.is_set():
        while True:
            n = port.readinto(buf)
            if not n:
                break
            sim.feed(bytes(buf[:n]), clock())
            if n < len(buf):
                break
        for frame in sim.poll(clock()):
            await port.write(frame)
        await asyncio.sleep(poll_ms / 1000)
