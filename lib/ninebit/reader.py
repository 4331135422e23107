# Streaming reader of the 9-bit bus. Two modes:
#   flagged (the 9th bit is seen: RP2040 PIO, Linux PARMRK capture): a frame opens only
#     on a flagged symbol; its length comes from the rules in ninebit.frame; a flagged
#     symbol inside a frame drops the partial frame and opens a new one. A first byte
#     of no known kind collects bytes until the next flagged symbol (or the cap) and is
#     a frame if its checksum holds.
#   plain (no 9th bit: ESP32's UART): a frame is a known first byte, its length and a
#     checksum that holds; anything else is skipped a byte at a time. An idle gap
#     (gap_ms without bytes, when the caller gives arrival times) ends a partial frame.
# Events go to on_frame(frame_bytes, now) and on_error(kind, bytes, now); kinds:
#   "checksum"   a complete frame whose sum does not match
#   "truncated"  a frame cut by a new flagged byte or an idle gap
#   "overlength" an unknown-kind frame longer than cap
#   "stray"      bytes outside any frame (flagged mode), or skipped (plain mode); one
#                event per run of such bytes, reported when the run ends, with data
#                b"": the run's length is reader.stray during the call
# The byte path does not allocate: one preallocated buffer; a frame is copied once.

from ninebit import FLAG
from ninebit.frame import MAX_FRAME, length, sum8
from ucm.clock import ticks_diff  # ticks wrap (2**30 ms on MicroPython): never subtract them

UNKNOWN_CAP = 64  # bytes collected after a first byte of no known kind


class Reader:
    def __init__(self, on_frame=None, on_error=None, flagged=True, cap=UNKNOWN_CAP, gap_ms=0):
        self.on_frame = on_frame or (lambda f, now: None)
        self.on_error = on_error or (lambda kind, data, now: None)
        self.flagged = flagged
        self.cap = cap
        self.gap_ms = gap_ms  # plain mode: an idle gap this long ends a partial frame (0 = off)
        self.buf = bytearray(2 * MAX_FRAME + 2)
        self.mv = memoryview(self.buf)
        self.n = 0  # bytes held (flagged: the frame so far; plain: the window)
        self.need = 0  # flagged: expected length; -1 = 0x40 without its byte 2; 0 = unknown kind
        self.stray = 0  # length of the current run of stray bytes
        self.last = None  # plain mode: arrival time of the last byte
        self.frames = 0
        self.errors = {"checksum": 0, "truncated": 0, "overlength": 0, "stray": 0}

    # --- events
    def _frame(self, start, n, now):
        self.frames += 1
        self.on_frame(bytes(self.mv[start : start + n]), now)

    def _error(self, kind, start, n, now):
        self.errors[kind] += 1
        self.on_error(kind, bytes(self.mv[start : start + n]), now)

    def _stray_end(self, now):
        if self.stray:
            self.errors["stray"] += 1
            self.on_error("stray", b"", now)  # the bytes themselves are not kept
            self.stray = 0

    # --- flagged mode
    def feed_symbols(self, syms, now=0, count=-1):
        """Symbols (byte | FLAG when the 9th bit was 1) from a list or array."""
        if count < 0:
            count = len(syms)
        for i in range(count):
            self.symbol(syms[i], now)

    def symbol(self, s, now=0):
        v = s & 0xFF
        if s & FLAG:
            self._stray_end(now)
            if self.n:
                self._end_unknown(now) if self.need == 0 else self._error("truncated", 0, self.n, now)
            self.buf[0] = v
            self.n = 1
            self.need = length(v)
            return
        if not self.n:
            self.stray += 1
            return
        self.buf[self.n] = v
        self.n += 1
        n = self.n
        if self.need < 0 and n == 3:
            self.need = length(self.buf[0], v)
        if self.need > 0 and n == self.need:
            if sum8(self.buf, n - 1) == v:
                self._frame(0, n, now)
            else:
                self._error("checksum", 0, n, now)
            self.n = 0
        elif self.need == 0 and n > self.cap:
            self._error("overlength", 0, n, now)
            self.n = 0

    def _end_unknown(self, now):
        # a frame of no known kind ends at the next flagged byte: a frame if it sums
        n = self.n
        if n >= 2 and sum8(self.buf, n - 1) == self.buf[n - 1]:
            self._frame(0, n, now)
        else:
            self._error("checksum", 0, n, now)
        self.n = 0

    def flush(self, now=0):
        """End of input: a frame in progress is reported as truncated (or, of unknown
        kind, checked as it stands)."""
        if self.flagged and self.n:
            self._end_unknown(now) if self.need == 0 else self._error("truncated", 0, self.n, now)
            self.n = 0
        elif not self.flagged:
            self._scan(now, True)
        self._stray_end(now)

    # --- plain mode
    def feed(self, data, now=0, count=-1):
        """Bytes without the 9th bit (plain mode), arrived at time now (ms)."""
        if count < 0:
            count = len(data)
        if self.gap_ms and self.last is not None and self.n and ticks_diff(now, self.last) >= self.gap_ms:
            self._scan(now, True)  # idle gap: what is held cannot grow into a frame
        if count:
            self.last = now
        i = 0
        room = len(self.buf)
        while i < count:
            k = min(count - i, room - self.n)
            if k == len(data):
                self.mv[self.n : self.n + k] = data  # the whole chunk: no slice
            else:
                self.mv[self.n : self.n + k] = data[i : i + k]  # one slice per chunk, not per byte
            self.n += k
            i += k
            self._scan(now, False)
            if self.n == room:  # cannot happen (a frame is at most half the window)
                self.n = 0

    def _scan(self, now, final):
        # parse frames from the start of the window; skip a byte where none fits
        buf = self.buf
        s = 0
        n = self.n
        while s < n:
            need = length(buf[s])
            if need == 0:
                s += 1
                self.stray += 1
                continue
            if need < 0:
                if n - s < 3:
                    break
                need = length(buf[s], buf[s + 2])
            if n - s < need:
                break
            if sum8(buf, need - 1, s) == buf[s + need - 1]:
                self._stray_end(now)
                self._frame(s, need, now)
                s += need
            else:
                s += 1
                self.stray += 1
        if final and s < n:
            self._stray_end(now)
            self._error("truncated", s, n - s, now)
            s = n
        if s:
            self.mv[0 : n - s] = self.mv[s:n]
            self.n = n - s
