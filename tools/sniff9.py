#!/usr/bin/env python3
# sniff9.py: a passive sniffer of the 9-bit bus (lib/ninebit) for the PC (CPython).
# Reads a USB RS-485 adapter live, or a saved capture, and prints one JSON object per
# frame, per rejected frame and per run of stray bytes; --params adds the parameter-change
# view. The codec is lib/ninebit; pyserial is needed only for --serial.
#
# How the 9th bit is seen on Linux: the port is opened at 19200 with 8 data bits and
# SPACE parity, so the UART takes the 9th bit for the parity bit, and a byte whose 9th
# bit is 1 (a frame's first byte) fails the parity check. With INPCK|PARMRK the tty layer
# delivers such a byte as FF 00 x and doubles a literal FF (FF FF); lib/ninebit/capture.py
# un-escapes that stream. pyserial clears PARMRK and INPCK, so they are set here on the
# file descriptor afterwards; pyserial must then not be asked to change any setting
# (a property change would rewrite the termios flags).

import argparse
import json
import os
import signal
import stat
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if not sys.path or sys.path[0] != _LIB:
    sys.path.insert(0, _LIB)

from ninebit import FLAG  # noqa: E402
from ninebit.capture import Unescaper  # noqa: E402
from ninebit.frame import BLOCK, describe, sum8  # noqa: E402
from ninebit.params import ParamTable, temp_c  # noqa: E402
from ninebit.reader import Reader  # noqa: E402
from ports import CMSPAR, input_flags, space_parity_problem  # noqa: E402,F401

PROG = "sniff9.py"
BAUD = 19200
CHUNK = 4096  # largest read
READ_TIMEOUT = 0.1  # s: a read returns b"" after this much silence
GAP_MS = 50  # --plain live: silence that ends a partial frame (above a USB adapter's latency)
MAX_PARAMS = 65536  # entries of the parameter table (a PC has room for every word)

EPILOG = """\
output (stdout): one JSON object per line
  frame      {"t": T, "hex": "900090", "len": 3, "checksum_ok": true, "kind": "poll",
             "node": 16, "flags": [0]}
             kind "poll" (0x80..0x9F, with "node"), "block" (0x40, with "block" and
             "words": big-endian u16) or "unknown"; the meanings are hypotheses.
             flags: positions of the bytes whose 9th bit was 1. A frame opens only on
             such a byte and another one cuts it, so a frame always shows [0]; null with
             --plain, where the 9th bit is not seen.
  rejected   {"t": T, "error": KIND, "hex": "...", "len": N}
             KIND: "checksum" (complete, but the last byte is not the sum; the line adds
             "expected_checksum"), "truncated" (cut by the next frame's first byte, an
             idle gap or the end of the input), "overlength" (a first byte of no known
             kind, and more than 64 bytes before the next frame). With --plain a
             damaged frame cannot be told from noise: it shows as a stray run.
  stray run  {"t": T, "stray": N}: N bytes outside any frame (with the 9th bit: bytes
             without it while no frame is open; with --plain: bytes skipped), one line
             per run, printed when the run ends.
  with --params:
  change     {"change": {"t": T, "kind": "0x40", "block": 13, "index": 4,
             "old": {"raw": "0078", "u16": 120, "temp_c_hypothesis": 0.234},
             "new": {"raw": "007d", "u16": 125, "temp_c_hypothesis": 0.244}}}
             one line each time a word differs from its previous value (a word's first
             value is no change). Keys: 0x40 frames give one entry per word, keyed by
             block (byte 1) and index; other frames one entry (block 0, index 0)
             holding byte 1, with 2-digit "raw". temp_c_hypothesis = value / 512,
             rounded to 3 decimals: an unconfirmed reading of the words as degrees C
             (0x40 words only).
  param      {"param": {"kind", "block", "index", "raw", "u16", "temp_c_hypothesis",
             "changes", "changed_t", "seen_t"}} for every entry, at the end, sorted.
             --table prints the same table as text on stderr instead.

  T ("t"): when the line was reported. With --serial: seconds since the start at which
  the bytes that completed it were read. With --decode: the offset in the file of the
  raw byte on which it was reported: a frame's last byte; with the 9th bit, a cut frame
  or a stray run is reported on the next frame's first byte (the x of its FF 00 x);
  with --plain, a stray run with the frame that follows it; at the end of the input,
  the file's length.

stderr: a start line (live), notes, and at the end one summary line
  {"summary": {"frames", "errors": {"checksum", "truncated", "overlength"},
   "stray_runs", "stray_bytes", "bytes", ...}}

examples:
  %(p)s --serial /dev/ttyUSB0 --save bus.raw --params
  %(p)s --serial /dev/ttyUSB0 --seconds 60 > frames.jsonl
  %(p)s --decode bus.raw --params --table
  %(p)s --serial /dev/ttyUSB0 --plain            an adapter without space parity

exit status: 0 done (also after Ctrl-C); 1 the port failed while reading; 2 bad
command line, unreadable file, or a port that cannot be opened or set to space parity.
""" % {"p": PROG}


from cli import UsageError, guarded  # noqa: E402  (bad input: one line, status 2)


class _Parser(argparse.ArgumentParser):
    # one-line errors (no usage dump), raised so main() can return the status
    def error(self, message):
        raise UsageError("%s (see --help)" % message)


# ---------------------------------------------------------------------------- the sniffer


class Sniffer:
    """Raw stream in, JSON-able dicts out (to emit). Un-escapes the PARMRK stream (or
    takes plain bytes with plain=True), reads frames with ninebit.reader.Reader, keeps
    the parameter table (params=True) and counts. Times: now is milliseconds since the
    start (live) or a file offset (decode); stamp(now) is what the lines carry as "t"."""

    def __init__(self, emit, plain=False, params=False, gap_ms=0, stamp=None, param_lines=True):
        self.emit = emit
        self.param_lines = param_lines  # finish() emits the table as {"param"} lines
        self.plain = plain
        self.stamp = stamp or (lambda now: now)
        self.reader = Reader(self._on_frame, self._on_error, flagged=not plain, gap_ms=gap_ms)
        self.unesc = Unescaper()
        self.syms = []
        self.table = ParamTable(max_keys=MAX_PARAMS, log_size=256) if params else None
        self.nchanges = {}  # parameter key -> changes seen
        self.bytes = 0  # raw bytes taken
        self.symbols = 0  # characters on the bus (after un-escaping)
        self.flagged = 0  # of which with the 9th bit set
        self.stray_bytes = 0

    # --- input
    def feed(self, data, now):
        """A chunk of the raw stream, as read at time now."""
        self.bytes += len(data)
        if self.plain:
            self.symbols += len(data)
            self.reader.feed(data, now)
        else:
            self.unesc.feed(data, self.syms)
            self._symbols(now)

    def idle(self, now):
        """A read that timed out: lets an idle gap end a partial frame (--plain)."""
        if self.plain:
            self.reader.feed(b"", now)

    def decode(self, data):
        """A whole capture, each byte stamped with its offset, then finish()."""
        mv = memoryview(data)
        if self.plain:
            feed = self.reader.feed
            for i in range(len(data)):
                feed(mv[i : i + 1], i)
            self.symbols += len(data)
        else:
            unesc, syms = self.unesc, self.syms
            for i in range(len(data)):
                if unesc.feed(mv[i : i + 1], syms):
                    self._symbols(i)
        self.bytes += len(data)
        self.finish(len(data))

    def _symbols(self, now):
        syms = self.syms
        self.symbols += len(syms)
        for s in syms:
            if s & FLAG:
                self.flagged += 1
        self.reader.feed_symbols(syms, now)
        syms.clear()

    def finish(self, now):
        """End of input: a frame in progress and the stray run are reported; with
        params, the whole table."""
        self.reader.flush(now)
        if self.table is not None and self.param_lines:
            for row in self.param_rows():
                self.emit({"param": row})

    # --- reader events
    def _on_frame(self, frame, now):
        d = {"t": self.stamp(now)}
        d.update(describe(frame))
        d["flags"] = None if self.plain else [0]
        self.emit(d)
        if self.table is not None:
            n = self.table.update(frame, now)
            if n:
                for t, k, old, new in self.table.log[-n:]:
                    self.nchanges[k] = self.nchanges.get(k, 0) + 1
                    self.emit({"change": self._change(t, k, old, new)})

    def _on_error(self, kind, data, now):
        if kind == "stray":
            n = self.reader.stray  # the run's length: the event does not carry the bytes
            self.stray_bytes += n
            self.emit({"t": self.stamp(now), "stray": n})
            return
        d = {"t": self.stamp(now), "error": kind, "hex": data.hex(), "len": len(data)}
        if kind == "checksum" and len(data) >= 2:
            d["expected_checksum"] = "%02x" % sum8(data, len(data) - 1)
        self.emit(d)

    # --- the parameter view
    @staticmethod
    def _value(kind, v):
        d = {"raw": ("%04x" if kind == BLOCK else "%02x") % v, "u16": v}
        if kind == BLOCK:
            d["temp_c_hypothesis"] = round(temp_c(v), 3)
        return d

    def _change(self, t, k, old, new):
        kind = k >> 16
        return {
            "t": self.stamp(t),
            "kind": "0x%02x" % kind,
            "block": (k >> 8) & 0xFF,
            "index": k & 0xFF,
            "old": self._value(kind, old),
            "new": self._value(kind, new),
        }

    def param_rows(self):
        out = []
        for r in self.table.rows():
            k = ParamTable.key(int(r["kind"], 16), r["block"], r["index"])
            d = {"kind": r["kind"], "block": r["block"], "index": r["index"]}
            d.update(self._value(k >> 16, r["u16"]))
            d["changes"] = self.nchanges.get(k, 0)
            d["changed_t"] = self.stamp(r["changed_at"])
            d["seen_t"] = self.stamp(r["seen_at"])
            out.append(d)
        return out

    def table_text(self):
        """The parameter table as aligned text (--table)."""
        lines = [
            "%-5s %5s %5s  %-4s %6s %9s %7s  %s"
            % ("kind", "block", "index", "raw", "u16", "/512 C?", "changes", "last change at")
        ]
        for r in self.param_rows():
            temp = "%9.3f" % r["temp_c_hypothesis"] if "temp_c_hypothesis" in r else "%9s" % "-"
            last = str(r["changed_t"]) if r["changes"] else "-"
            lines.append(
                "%-5s %5d %5d  %-4s %6d %s %7d  %s"
                % (r["kind"], r["block"], r["index"], r["raw"], r["u16"], temp, r["changes"], last)
            )
        lines.append("(/512 C?: the hypothesis that a word is a temperature, value/512 degrees C)")
        return "\n".join(lines)

    # --- the end
    def summary(self):
        r = self.reader
        d = {
            "frames": r.frames,
            "errors": {k: r.errors[k] for k in ("checksum", "truncated", "overlength")},
            "stray_runs": r.errors["stray"],
            "stray_bytes": self.stray_bytes,
            "bytes": self.bytes,
        }
        if not self.plain:
            d["symbols"] = self.symbols
            d["flagged"] = self.flagged
            d["not_parmrk"] = self.unesc.bad
        if self.table is not None:
            d["params"] = len(self.table.values)
            d["changes"] = sum(self.nchanges.values())
            d["params_dropped"] = self.table.dropped
        return d

    def notes(self):
        out = []
        if not self.plain and self.symbols and not self.flagged:
            out.append(
                "no byte had its 9th bit set: the adapter may not do space parity, or this is "
                "not a PARMRK stream of the 9-bit bus (try --plain)"
            )
        if not self.plain and self.unesc.bad:
            out.append(
                "%d FF bytes followed by neither 00 nor FF: not a PARMRK stream (a plain 8N1 "
                "capture? try --plain)" % self.unesc.bad
            )
        return out


# ---------------------------------------------------------------------------- the port


class PortReader:
    """A pyserial port as the live loop reads it: read(n) waits up to READ_TIMEOUT for a
    first byte, then returns what has arrived (b"" on silence)."""

    def __init__(self, ser):
        self.ser = ser

    def read(self, n):
        k = self.ser.in_waiting
        return self.ser.read(min(n, k) if k else 1)

    def close(self):
        self.ser.close()


def _reason(e):
    errno = getattr(e, "errno", None)
    if isinstance(errno, int) and errno:
        text = os.strerror(errno)
        if errno == 13:
            text += " (is your user in the dialout group?)"
        return text
    return str(e)


def open_port(path, plain):
    """Open path at 19200, 8 data bits, SPACE parity with INPCK|PARMRK (or 8N1 with
    plain), checked by reading the settings back. Raises UsageError."""
    try:
        import termios

        import serial
    except ImportError as e:
        raise UsageError("--serial needs pyserial on Linux (%s); pip install -r requirements.txt" % e) from None
    if not plain and not sys.platform.startswith("linux"):
        raise UsageError("space parity with PARMRK is done here only on Linux; try --plain")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None  # pyserial says why below
    if mode is not None and not stat.S_ISCHR(mode):
        raise UsageError("%s is not a serial port (not a character device)" % path)
    try:
        ser = serial.Serial(
            path,
            BAUD,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE if plain else serial.PARITY_SPACE,
            stopbits=serial.STOPBITS_ONE,
            timeout=READ_TIMEOUT,
        )
    except ValueError as e:  # pyserial without mark/space parity on this system
        raise UsageError("%s: cannot set space parity (%s); try --plain" % (path, e)) from None
    except (serial.SerialException, OSError) as e:
        if not getattr(e, "errno", None) and "configure" in str(e):  # tcgetattr failed
            raise UsageError("cannot open %s: not a serial port (%s)" % (path, e)) from None
        raise UsageError("cannot open %s: %s" % (path, _reason(e))) from None
    try:
        fd = ser.fileno()
        termios.tcsetattr(fd, termios.TCSANOW, input_flags(termios.tcgetattr(fd), plain))
        if not plain:
            problem = space_parity_problem(termios.tcgetattr(fd))
            if problem:
                raise UsageError(
                    "%s does not support space parity with parity marking (read back: %s); "
                    "try --plain" % (path, problem)
                )
        ser.reset_input_buffer()
    except (termios.error, OSError) as e:
        ser.close()
        raise UsageError(
            "cannot configure %s: %s" % (path, _reason(e) if isinstance(e, OSError) else e.args[-1])
        ) from None
    except UsageError:
        ser.close()
        raise
    return PortReader(ser)


def run_live(port, sniffer, seconds=None, save=None, clock=time.monotonic):
    """Read port (anything with read(n) -> bytes, b"" when nothing came) into sniffer
    until seconds have passed, Ctrl-C (KeyboardInterrupt) or a read error; save (a
    binary file) gets every byte exactly as read. Then sniffer.finish(). Returns None,
    or the text of the read error that ended it."""
    t0 = clock()
    now = 0
    err = None
    try:
        while seconds is None or now < seconds * 1000:
            data = port.read(CHUNK)
            now = int((clock() - t0) * 1000)
            if data:
                if save is not None:
                    save.write(data)
                    save.flush()
                sniffer.feed(data, now)
            else:
                sniffer.idle(now)
    except KeyboardInterrupt:
        pass
    except OSError as e:  # serial.SerialException too: unplugged, ...
        err = "reading failed: %s" % (_reason(e) if getattr(e, "errno", None) else e)
    sniffer.finish(now)
    return err


# ---------------------------------------------------------------------------- command line


def _parser():
    p = _Parser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Sniff the 9-bit bus (19200 baud, 11-bit characters whose 9th bit marks a frame's\n"
            "first byte, 8-bit additive checksum) that some A.O. Smith-family water heaters\n"
            "carry on the CTA-2045 socket: live from a USB RS-485 adapter on Linux (space\n"
            "parity with parity marking shows the 9th bit), or from a saved capture.\n"
            "Passive only: nothing is ever sent."
        ),
        epilog=EPILOG,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--serial", metavar="PORT", help="read this serial port live (e.g. /dev/ttyUSB0) until Ctrl-C")
    src.add_argument("--decode", metavar="FILE", help="read a capture saved by --save ('-' = standard input)")
    p.add_argument(
        "--plain",
        action="store_true",
        help="no 9th bit: the port at 8N1 (for adapters without space parity; the 9th bit falls "
        "where 8N1 expects the stop bit, and bytes with that framing error are kept), or FILE "
        "is a raw 8N1 capture. Frames are found by first byte, length and checksum",
    )
    p.add_argument(
        "--save",
        metavar="FILE",
        help="--serial: also write every byte exactly as read (the PARMRK "
        "stream, or plain bytes with --plain) to FILE, for --decode later",
    )
    p.add_argument("--seconds", type=_positive, metavar="N", help="--serial: stop after N seconds")
    p.add_argument(
        "--gap-ms",
        type=_positive,
        metavar="MS",
        help="--serial --plain: this much silence ends a partial frame (default %d)" % GAP_MS,
    )
    p.add_argument(
        "--params", action="store_true", help="the parameter view: a line per changed word, the table at the end"
    )
    p.add_argument(
        "--table",
        action="store_true",
        help='implies --params; the final table as text on stderr instead of {"param"} lines',
    )
    return p


def _positive(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError("%s must be a positive number" % text)
    return v


def _check(args):
    if args.decode is not None:
        for name in ("save", "seconds", "gap_ms"):
            if getattr(args, name) is not None:
                raise UsageError("--%s applies to --serial only" % name.replace("_", "-"))
    if args.gap_ms is not None and not args.plain:
        raise UsageError("--gap-ms applies to --plain only (with the 9th bit, frames need no gap)")
    if args.table:
        args.params = True


def _end(sniffer, stderr, table):
    if table:
        stderr.write(sniffer.table_text() + "\n")
    for n in sniffer.notes():
        stderr.write("%s: note: %s\n" % (PROG, n))
    stderr.write(json.dumps({"summary": sniffer.summary()}) + "\n")


def _decode_main(args, stdout, stderr, stdin):
    try:
        if args.decode == "-":
            data = getattr(stdin, "buffer", stdin).read()
        else:
            with open(args.decode, "rb") as f:
                data = f.read()
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (args.decode, e.strerror or e)) from None

    def emit(d):
        stdout.write(json.dumps(d) + "\n")

    s = Sniffer(emit, plain=args.plain, params=args.params, param_lines=not args.table)
    s.decode(data)
    _end(s, stderr, args.table)
    return 0


def _live_main(args, stdout, stderr, open_port, clock):
    save = None
    if args.save:
        try:
            save = open(args.save, "wb")
        except OSError as e:
            raise UsageError("cannot write %s: %s" % (args.save, e.strerror or e)) from None
    port = None
    old_term = None
    try:
        port = open_port(args.serial, args.plain)

        def emit(d):
            stdout.write(json.dumps(d) + "\n")
            stdout.flush()

        gap = args.gap_ms if args.gap_ms is not None else GAP_MS
        s = Sniffer(
            emit,
            plain=args.plain,
            params=args.params,
            gap_ms=int(gap) if args.plain else 0,
            stamp=lambda now: round(now / 1000, 3),
            param_lines=not args.table,
        )
        how = "8N1, no 9th bit" if args.plain else "space parity with parity marking (9th bit seen)"
        stderr.write(
            "%s: reading %s at %d baud, %s%s; Ctrl-C stops\n"
            % (PROG, args.serial, BAUD, how, ", saving to " + args.save if args.save else "")
        )
        stderr.flush()
        try:  # SIGTERM ends it like Ctrl-C (summary, exit 0)
            old_term = signal.signal(signal.SIGTERM, _interrupt)
        except ValueError:  # not the main thread
            old_term = None
        err = run_live(port, s, args.seconds, save, clock)
        _end(s, stderr, args.table)
        if err:
            stderr.write("%s: error: %s\n" % (PROG, err))
            return 1
        return 0
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        if port is not None and hasattr(port, "close"):
            port.close()
        if save is not None:
            save.close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None, stdout=None, stderr=None, stdin=None, open_port=open_port, clock=time.monotonic):
    """Run the tool; returns the exit status. The streams default to sys's; open_port(path,
    plain) gives the live source (anything with read(n)); clock gives seconds."""
    argv = sys.argv[1:] if argv is None else list(argv)
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    stdin = sys.stdin if stdin is None else stdin

    def body():
        args = _parser().parse_args(argv)
        _check(args)
        if args.decode is not None:
            return _decode_main(args, stdout, stderr, stdin)
        return _live_main(args, stdout, stderr, open_port, clock)

    return guarded(PROG, stdout, stderr, body)


if __name__ == "__main__":
    import cli

    cli.run(main)
