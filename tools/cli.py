# What every command-line tool here does around its main(): bad input is one line on
# stderr and exit status 2 (UsageError), argparse's --help and errors keep their status,
# stdout is flushed, and piping into head & co. (BrokenPipeError) or Ctrl-C end quietly.
import os
import sys
from contextlib import redirect_stderr, redirect_stdout


class UsageError(Exception):
    """Bad command line, input or port: one line on stderr, exit status 2."""


def guarded(prog, stdout, stderr, body):
    """body() with sys.stdout/stderr redirected; its status, or 2 on UsageError."""
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            return body()
    except UsageError as e:
        stderr.write("%s: error: %s\n" % (prog, e))
        return 2
    except SystemExit as e:  # argparse --help
        return e.code if isinstance(e.code, int) else 0


def run(main):
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into head & co.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 0
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)


def parse_hex(text):
    """bytes from a hex string: whitespace, ':', '-', ',' and '_' separators and 0x
    prefixes (on the whole string or on each byte) are allowed."""
    for sep in ":-,_":
        text = text.replace(sep, " ")
    digits = "".join(t[2:] if t[:2] in ("0x", "0X") else t for t in text.split())
    shown = ascii(text.strip())  # error messages stay ASCII whatever the terminal
    if not digits:
        raise UsageError("no hex digits in %s" % shown)
    for i, c in enumerate(digits):
        if c not in "0123456789abcdefABCDEF":
            raise UsageError("not hex: %s (bad character %s at digit %d)" % (shown, ascii(c), i + 1))
    if len(digits) % 2:
        raise UsageError("odd number of hex digits (%d) in %s" % (len(digits), shown))
    return bytes.fromhex(digits)
