# The one clock shim: millisecond ticks that wrap like MicroPython's (2**30), their
# difference, and an asyncio sleep. lib/ code takes times from here (or as arguments),
# never from time.time(), so tests can drive a fake clock.

try:
    from time import sleep_us, ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython
    import time as _time

    def sleep_us(us):  # blocking, as MicroPython's
        _time.sleep(us / 1000000)

    _PERIOD = 1 << 30
    _HALF = 1 << 29

    def ticks_ms():
        return (_time.monotonic_ns() // 1000000) & (_PERIOD - 1)

    def ticks_diff(a, b):
        return ((a - b + _HALF) & (_PERIOD - 1)) - _HALF

    def ticks_add(a, d):
        return (a + d) & (_PERIOD - 1)


import asyncio


if hasattr(asyncio, "sleep_ms"):  # MicroPython
    sleep_ms = asyncio.sleep_ms
else:

    async def sleep_ms(ms):
        await asyncio.sleep(ms / 1000)
