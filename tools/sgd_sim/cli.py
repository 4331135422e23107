# The command line of the simulated heater (python3 tools/sgd_sim --pty ...): prints
# every frame in and out and reads commands on stdin (help).

import argparse
import asyncio
import json
import math
import os
import sys
import threading

from ucm.trace import describe

from sgd_sim.common import (
    FEATURES,
)
from sgd_sim.runner import run
from sgd_sim.sim import SgdSim


def format_line(sim, direction, data, now):
    t = (now - (sim.t0_ms or now)) / 1000
    arrow = "SGD->UCM" if direction == "out" else "UCM->SGD"
    return "%9.3f %s %s %s" % (t, arrow, data.hex(" "), describe(data))


HELP = """commands:
  override on|off     customer override (sends 11 01 / 11 00)
  silent SECONDS      send nothing, ignore input (0 = speak again, 'forever')
  drop-acks N         do not ACK the next N frames
  corrupt N           send the next N frames with a bad checksum
  delay-ack MS        link ACK delay (now %s ms)
  reboot [SECONDS]    go silent, then start over (default 2 s)
  draw WH             draw hot water worth WH
  status              one line of JSON
  help, quit"""


class _Quit(Exception):
    pass


def command(sim, line):
    """Run one stdin command; returns the text to print ("" for none). Raises _Quit."""
    words = line.split()
    if not words:
        return ""
    cmd, args = words[0].lower(), words[1:]

    def num(i, kind=int, low=0):
        try:
            v = kind(args[i])
        except (IndexError, ValueError):
            raise ValueError("%s needs a number" % cmd)
        if not v >= low or v != v or v == math.inf:
            raise ValueError("%s: %s is out of range" % (cmd, args[i]))
        return v

    try:
        if cmd in ("quit", "exit"):
            raise _Quit()
        if cmd == "help":
            return HELP % sim.t_ma_ms
        if cmd == "status":
            return json.dumps(sim.status(), separators=(",", ":"))
        if cmd == "override":
            if len(args) != 1 or args[0].lower() not in ("on", "off"):
                raise ValueError("usage: override on|off")
            sim.set_override(args[0].lower() == "on")
            return "override %s" % args[0].lower()
        if cmd == "silent":
            if args[:1] == ["forever"]:
                sim.silent(None)
                return "silent until 'silent 0'"
            s = num(0, float)
            sim.silent(int(s * 1000))
            return "silent for %g s" % s if s else "speaking again"
        if cmd == "drop-acks":
            sim.drop_acks(num(0))
            return "dropping the next %d ACKs" % sim._drop
        if cmd == "corrupt":
            sim.corrupt(num(0))
            return "corrupting the next %d frames" % sim._corrupt
        if cmd == "delay-ack":
            sim.t_ma_ms = num(0)
            return "ACK delay %d ms" % sim.t_ma_ms
        if cmd == "reboot":
            s = num(0, float) if args else 2.0
            sim.reboot(int(s * 1000))
            return "rebooting (down %g s)" % s
        if cmd == "draw":
            sim.draw(num(0, float))
            return "drew %s Wh; take now %d Wh" % (args[0], round(sim.take_wh()))
        raise ValueError("unknown command %r (try help)" % cmd)
    except ValueError as e:
        return "error: %s" % e


def _parser():
    p = argparse.ArgumentParser(
        prog="sgd_sim",
        description="A simulated CTA-2045 water heater (SGD) on a pty or a serial port. "
        "Prints every frame in and out; reads commands on stdin (type help).",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="create a pty, print its path and serve on it (the default)")
    where.add_argument("--serial", metavar="PATH", help="serve on a serial device (e.g. a USB RS-485 adapter)")
    p.add_argument("--baud", type=int, default=19200, help="serial bit rate (default 19200)")
    p.add_argument("--no-intermediate", action="store_true", help="no Intermediate DR: NAK 06 for 08 02")
    p.add_argument(
        "--features", default=",".join(FEATURES), help="Intermediate requests supported (default %(default)s)"
    )
    p.add_argument(
        "--max-payload-code", type=lambda s: int(s, 0), default=5, help="answer to 0x18 (default 5 = 64 bytes)"
    )
    p.add_argument(
        "--discovery-s", type=float, default=22.0, help="discovery burst period while answered, 0 = off (default 22)"
    )
    p.add_argument("--utc-query-s", type=float, default=0.0, help="Get UTC period, 0 = off (default)")
    p.add_argument(
        "--t-ma-ms", "--ack-delay-ms", type=int, default=15, help="T_MA, the link ACK delay in ms (default 15)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="do not print frames")
    return p


def read_lines(stdin, put):
    """put(line) for every line of text from stdin (a terminal, a pipe, a fifo or any
    file object), until its end. A daemon thread blocked in a read must hold no
    Python-level lock at exit, so a real stdin is read through its file descriptor."""
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is None:
        for line in stdin:
            put(line)
        return
    pending = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending += chunk
        *done, pending = pending.split(b"\n")
        for line in done:
            put(line.decode("utf-8", "replace"))
    if pending:
        put(pending.decode("utf-8", "replace"))


async def _serve(sim, port, stdin, say):
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def reader():
        try:
            read_lines(stdin, lambda line: loop.call_soon_threadsafe(lines.put_nowait, line))
        except (OSError, ValueError, RuntimeError):
            pass
        try:
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except RuntimeError:  # the loop is gone already
            pass

    threading.Thread(target=reader, daemon=True).start()
    task = asyncio.create_task(run(sim, port))
    try:
        while True:
            get = asyncio.ensure_future(lines.get())
            done, _ = await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                get.cancel()
                task.result()  # a port error: raise it
                return
            line = get.result()
            if line is None:
                return
            try:
                text = command(sim, line)
            except _Quit:
                return
            if text:
                say(text)
    finally:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass


def main(argv=None, stdin=None, stdout=None):
    args = _parser().parse_args(argv)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout

    def say(text):
        print(text, file=stdout, flush=True)

    try:
        feats = [f for f in args.features.replace(" ", "").split(",") if f]
        sim = SgdSim(
            seed=args.seed,
            intermediate=not args.no_intermediate,
            features=feats,
            max_payload_code=args.max_payload_code,
            discovery_ms=int(args.discovery_s * 1000),
            utc_query_ms=int(args.utc_query_s * 1000),
            t_ma_ms=args.t_ma_ms,
        )
    except (TypeError, ValueError) as e:
        print("sgd_sim: error: %s" % e, file=sys.stderr)
        return 2
    if not args.quiet:
        sim.trace = lambda d, data, now: say(format_line(sim, d, data, now))
    from ports import FdPort, SerialPort, open_pty

    try:
        if args.serial:
            port = SerialPort(args.serial, args.baud)
            say("serial: %s" % args.serial)
        else:
            master, slave, path = open_pty()
            os.close(slave)  # the peer opens the path; FdPort sees it come and go
            port = FdPort(master)
            say("pty: %s" % path)
    except Exception as e:  # no such device, permission, no ptys
        print("sgd_sim: error: %s" % e, file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve(sim, port, stdin, say))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print("sgd_sim: error: %s" % e, file=sys.stderr)
        return 1
    finally:
        port.close()
    return 0
