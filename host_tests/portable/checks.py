# Helpers shared by the portable tests, which run under pytest on CPython and under
# MicroPython (mp_run.py): no pytest features, only plain asserts and these helpers.

import sys

from cta2045 import CodecError

MICROPYTHON = sys.implementation.name == "micropython"


def h(text):
    """bytes from a spaced hex string as the docs write it: "08 01 00 02 01 11 E9 4E"."""
    return bytes.fromhex(text.replace(" ", ""))


def rows(table, at_least=1):
    """table itself, after asserting it has at least at_least rows: a table-driven test
    must not pass because its table came out empty."""
    assert len(table) >= at_least, "the table has %d rows, expected at least %d" % (len(table), at_least)
    return table


def raises(exc, fn, *args, **kwargs):
    """Assert that fn(*args, **kwargs) raises exc; returns the exception."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %r%r" % (exc.__name__, fn, args))


def raises_codec_error(fn, *args, **kwargs):
    return raises(CodecError, fn, *args, **kwargs)


class Events:
    """A FrameReader handler that records (event, value) with values copied to bytes."""

    def __init__(self):
        self.items = []

    def __call__(self, ev, value):
        self.items.append((ev, value if isinstance(value, int) else bytes(value)))

    def of(self, ev):
        return [v for e, v in self.items if e == ev]


class Lcg:
    """Deterministic pseudo-random numbers, identical on CPython and MicroPython."""

    def __init__(self, seed):
        self.x = seed & 0x7FFFFFFF

    def next(self):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return self.x >> 8

    def below(self, n):
        return self.next() % n

    def data(self, n):
        return bytes(self.below(256) for _ in range(n))
