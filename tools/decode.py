#!/usr/bin/env python3
# decode.py: the CTA-2045 decode/encode command line tool (PC side, CPython).
# Decodes hex strings, hex lines on stdin or raw binary captures into one JSON object per
# frame, link ACK/NAK, junk run or partial frame, and builds any supported message kind
# as a hex frame with its checksum (`decode.py encode KIND ...`). Uses the codec in lib/.

import argparse
import json
import os
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if not sys.path or sys.path[0] != _LIB:
    sys.path.insert(0, _LIB)

import cta2045  # noqa: E402

if not os.path.realpath(cta2045.__file__).startswith(os.path.realpath(_LIB) + os.sep):  # another cta2045 won
    raise ImportError("decode.py needs the codec in %s, got %s" % (_LIB, cta2045.__file__))

from cta2045 import CodecError  # noqa: E402
from cta2045.frame import (  # noqa: E402
    ACK,
    EV_ACK,
    EV_BAD_CHECKSUM,
    EV_FRAME,
    EV_JUNK,
    EV_NAK,
    EV_OVERSIZE,
    EV_TIMEOUT,
    LEN_MASK,
    FrameReader,
    checksum,
    nak,
    valid,
)
from cta2045.basic import EPOCH_2000  # noqa: E402
from cta2045.message import decode  # noqa: E402

import encoder  # noqa: E402

# The encode side: tools/encoder.py (every kind from the codec's tables)
KINDS = encoder.KINDS

PROG = "decode.py"
CHUNK = 65536


from cli import UsageError, guarded, parse_hex  # noqa: E402,F401  (bad input: one line, status 2)


class _Parser(argparse.ArgumentParser):
    # one-line errors (no usage dump), raised so main() can return the status
    def error(self, message):
        where = self.prog[len(PROG) + 1 :] if self.prog.startswith(PROG + " ") else ""
        raise UsageError("%s%s (see --help)" % (where + ": " if where else "", message))


# ---------------------------------------------------------------------------- decoding


class Decoder:
    """Turns FrameReader events into JSON lines on out and counts the problems seen."""

    PROBLEMS = ("bad_checksum", "junk", "oversize", "incomplete", "error")

    def __init__(self, out, max_payload=256):
        self.out = out
        self.max_payload = max_payload
        self.counts = {}
        self._junk = b""  # the reader splits long junk runs: they are joined here

    def decode_stream(self, chunks):
        """Feed an iterable of byte chunks through one fresh FrameReader, then flush."""
        reader = FrameReader(self._event, self.max_payload)
        for chunk in chunks:
            reader.feed(chunk)
        reader.flush()
        self._flush_junk()

    def problems(self):
        return {k: self.counts[k] for k in self.PROBLEMS if self.counts.get(k)}

    def _flush_junk(self):
        if self._junk:
            j, self._junk = self._junk, b""
            self._emit({"event": "junk", "hex": j.hex(), "length": len(j)})

    def _emit(self, obj):
        self.counts[obj["event"]] = self.counts.get(obj["event"], 0) + 1
        self.out.write(json.dumps(obj) + "\n")

    def _event(self, ev, value):
        if ev == EV_JUNK:
            self._junk += bytes(value)
            return
        self._flush_junk()
        if ev == EV_FRAME:
            self._frame(bytes(value), "frame")
        elif ev == EV_BAD_CHECKSUM:
            self._frame(bytes(value), "bad_checksum")
        elif ev == EV_ACK:
            self._link("ack", ACK)
        elif ev == EV_NAK:
            self._link("nak", nak(value))
        elif ev == EV_OVERSIZE:
            self._emit({"event": "oversize", "declared_length": value, "max_payload": self.max_payload})
        elif ev == EV_TIMEOUT:
            part = bytes(value)
            d = {"event": "incomplete", "hex": part.hex(), "length": len(part)}
            if part[0] in (0x06, 0x15):
                d["expected_length"] = 2
            elif len(part) >= 4:
                d["expected_length"] = 6 + ((part[2] << 8 | part[3]) & LEN_MASK)
            self._emit(d)
        else:  # an event this tool does not know: report it rather than drop it
            self._emit({"event": "error", "error": "unknown reader event %r" % ev})

    def _link(self, event, data):
        d = {"event": event}
        d.update(decode(data).to_dict())
        d["hex"] = data.hex()
        self._emit(d)

    def _frame(self, f, event):
        try:
            msg = decode(f, check=True)
            d = {"event": event}
            d.update(msg.to_dict())
        except CodecError as e:
            self._error(f, str(e))
            return
        except Exception as e:  # a codec bug must not end a capture decode
            self._error(f, "%s: %s" % (type(e).__name__, e))
            return
        _price(d["fields"])
        d["hex"] = f.hex()
        d["checksum_ok"] = msg.checksum_ok
        if not msg.checksum_ok:
            d["expected_checksum"] = "%04x" % checksum(f[:-2])
        self._emit(d)

    def _error(self, f, text):
        self._emit({"event": "error", "hex": f.hex(), "error": text, "checksum_ok": valid(f)})


def _price(f):
    # Set Energy Price (PROTOCOL.md section 4.5): cost and next_cost as decimals of the
    # currency, the expiry as Unix time and ISO-8601
    if "digits" in f:
        for k in ("cost", "next_cost"):
            if k in f:
                s = "%0*d" % (f["digits"] + 1, f[k])
                f[k + "_decimal"] = s[: len(s) - f["digits"]] + ("." + s[len(s) - f["digits"] :] if f["digits"] else "")
    if "expiry" in f:
        f["expiry_unix"] = f["expiry"] + EPOCH_2000
        f["expiry_iso"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(f["expiry_unix"]))


def _decode_parser():
    p = _Parser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Decode CTA-2045 frames and link ACK/NAKs to JSON, one object per line.\n"
            'Every line has an "event" key: frame, ack, nak, bad_checksum, junk,\n'
            "oversize, incomplete or error. Frames carry the decoded message (type, name,\n"
            'fields with human-readable values), "hex" and "checksum_ok".\n\n'
            "Build frames with:  %s encode KIND [options]   (%s encode --help lists kinds)" % (PROG, PROG)
        ),
        epilog=(
            "examples:\n"
            "  %(p)s 080100020111e94e\n"
            "  %(p)s '08 01 00 02 01 11 E9 4E' 0600 15:07\n"
            "  %(p)s --file capture.bin --strict\n"
            "  cat frames.txt | %(p)s -\n"
            "  %(p)s encode shed --duration-s 600 | %(p)s -\n\n"
            "exit status: 0 decoded (bad checksums and junk are reported, not fatal),\n"
            "1 with --strict when any bad_checksum/junk/oversize/incomplete/error was seen,\n"
            "2 bad command line or input (not hex, unreadable file)." % {"p": PROG}
        ),
    )
    p.add_argument(
        "hex",
        nargs="*",
        metavar="HEX",
        help="hex of one or more concatenated frames and ACK/NAKs (quote it if it has spaces; "
        "':' '-' separators and 0x prefixes are fine). Each is decoded on its own. "
        "'-' reads hex lines from standard input (blank lines and # comments skipped).",
    )
    p.add_argument(
        "--file",
        "-f",
        action="append",
        metavar="PATH",
        help="decode a raw binary capture ('-' = binary standard input); may be repeated",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any bad checksum, junk, oversize, incomplete frame or decode error was seen",
    )
    p.add_argument(
        "--max-payload",
        type=encoder.int_type(2, LEN_MASK, "--max-payload"),
        default=256,
        metavar="N",
        help="largest payload accepted as a frame; longer declared lengths are reported as oversize (default 256)",
    )
    return p


def _decode_main(argv, stdout, stderr, stdin):
    args = _decode_parser().parse_args(argv)
    files = args.file or []
    if not args.hex and not files:
        raise UsageError("nothing to decode: give HEX arguments, '-' or --file PATH (see --help)")
    if args.hex and files:
        raise UsageError("give HEX arguments or --file, not both")
    if files.count("-") > 1 or args.hex.count("-") > 1:
        raise UsageError("standard input can be read only once")
    # check everything before printing anything
    inputs = [a if a == "-" else parse_hex(a) for a in args.hex]
    handles = []
    try:
        for path in files:
            if path == "-":
                handles.append(getattr(stdin, "buffer", stdin))
            else:
                try:
                    handles.append(open(path, "rb"))
                except OSError as e:
                    raise UsageError("cannot read %s: %s" % (path, e.strerror or e)) from None
        dec = Decoder(stdout, args.max_payload)
        status = 0
        for h in handles:
            dec.decode_stream(iter(lambda h=h: h.read(CHUNK), b""))
        for item in inputs:
            if item != "-":
                dec.decode_stream((item,))
                continue
            for lineno, line in enumerate(getattr(stdin, "buffer", stdin), 1):
                if isinstance(line, bytes):  # undecodable bytes fail as "not hex" below
                    line = line.decode("ascii", "backslashreplace")
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    data = parse_hex(line)
                except UsageError as e:
                    stderr.write("%s: error: stdin line %d: %s\n" % (PROG, lineno, e))
                    status = 2
                    continue
                dec.decode_stream((data,))
    finally:
        for h in handles:
            if h is not getattr(stdin, "buffer", stdin):
                h.close()
    if status:
        return status
    if args.strict:
        bad = dec.problems()
        if bad:
            stderr.write("%s: --strict: %s\n" % (PROG, ", ".join("%d %s" % (bad[k], k) for k in bad)))
            return 1
    return 0


# ---------------------------------------------------------------------------- encoding


def _encode_parser():
    p = _Parser(
        prog=PROG + " encode",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build one CTA-2045 frame and print it in hex, checksum included.\n"
        "Notes on how values were encoded (e.g. rounded durations) go to standard error.",
        epilog=(
            "examples:\n"
            "  %(p)s encode shed --duration-s 600        -> 080100020111e94e\n"
            "  %(p)s encode advanced_load_up --duration-min 60 --value 5 --units 100Wh\n"
            "  %(p)s encode utc_time --utc 2026-03-01T12:00:00Z --tz-hours -5 --dst-hours 1\n"
            "  %(p)s encode mtsq --type intermediate --spaced\n"
            "  %(p)s encode KIND --help                  (options of one kind)" % {"p": PROG}
        ),
    )
    sub = p.add_subparsers(dest="kind", metavar="KIND", title="kinds")
    sub.required = True

    def common(sp):
        sp.add_argument("--spaced", action="store_true", help="print spaced uppercase hex (08 01 00 02 ...)")
        sp.add_argument("-q", "--quiet", action="store_true", help="no notes on standard error")

    return p, encoder.add_parsers(sub, common)


def _encode_main(argv, stdout, stderr):
    parser, builders = _encode_parser()
    args = parser.parse_args(argv)
    try:
        frame, notes = builders[args.kind].build(args)
    except CodecError as e:
        raise UsageError("encode %s: %s" % (args.kind, e)) from None
    except UsageError as e:
        raise UsageError("encode %s: %s" % (args.kind, e)) from None
    if args.spaced:
        text = " ".join("%02X" % b for b in frame)
    else:
        text = frame.hex()
    stdout.write(text + "\n")
    if not args.quiet:
        for n in notes:
            stderr.write("note: %s\n" % n)
    return 0


def main(argv=None, stdout=None, stderr=None, stdin=None):
    """Run the tool; returns the exit status. The streams default to sys's."""
    argv = sys.argv[1:] if argv is None else list(argv)
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    stdin = sys.stdin if stdin is None else stdin

    def body():
        if argv and argv[0] == "encode":
            return _encode_main(argv[1:], stdout, stderr)
        return _decode_main(argv, stdout, stderr, stdin)

    return guarded(PROG, stdout, stderr, body)


if __name__ == "__main__":
    import cli

    cli.run(main)
