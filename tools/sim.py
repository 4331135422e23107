#!/usr/bin/env python3
# `make sim`: the firmware (host board) against a simulated water heater through a
# pseudo-terminal pair, the HTTP API on 127.0.0.1:8080, and a live decoded trace.
#   python tools/sim.py [--http-port 8080] [--quiet] [--serial PATH] [--firmware micropython|cpython]
#                       [--micropython BIN]
#                       [--set name=value ...] [simulator options]
# Environment (what `make sim PORT=... SERIAL=... QUIET=1 MICROPYTHON=...` passes):
#   PORT, SERIAL, QUIET, FIRMWARE, MICROPYTHON, UCM_TOKEN (else a token is generated and printed),
#   MQTT=host[:port] (Home Assistant over MQTT; MQTT_USER, MQTT_PASSWORD, MQTT_BASE).
# With --serial the firmware talks to that device (a USB RS-485 adapter on a real heater,
# or any SGD program's pty path) and no simulator is started. The firmware process runs
# under MicroPython's unix port (the venv's, or --micropython BIN), or under CPython with
# --firmware cpython; the simulator always runs here, on CPython. While the simulator runs, commands typed here
# drive it (type help): override on|off, silent S, drop-acks N, corrupt N, reboot, ...

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import sysconfig
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import ninebit_sim  # noqa: E402
import ports  # noqa: E402
import runtime  # noqa: E402
import sgd_sim  # noqa: E402


def firmware_command(micropython=None):
    """(argv, env) that start firmware/main.py with the host board, under CPython or a
    MicroPython unix-port binary. Microdot is taken from this Python's site-packages."""
    paths = [os.path.join(ROOT, p) for p in ("lib", "firmware", "boards/host")]
    env = dict(os.environ)
    main = os.path.join(ROOT, "firmware", "main.py")
    if micropython:
        site = sysconfig.get_paths()["purelib"]  # where pip put microdot
        env["MICROPYPATH"] = ":".join(paths + [site, ".frozen"])
        return [micropython, main], env
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return [sys.executable, "-u", main], env


def start_firmware(
    serial,
    http_host,
    http_port,
    token,
    quiet=False,
    settings=(),
    micropython="auto",
    stdout=None,
    bus="cta2045",
    mqtt=None,
):
    """The firmware process. micropython: a unix-port binary, None for CPython, or
    "auto": the default of tools/runtime.py (MicroPython where there is a unix port;
    FIRMWARE=cpython or MICROPYTHON= in the environment choose)."""
    import build

    if micropython == "auto":
        micropython = runtime.choose()[1]
    argv, env = firmware_command(micropython)
    argv += [
        "--serial",
        serial,
        "--http-host",
        http_host,
        "--http-port",
        str(http_port),
        "--page",
        build.page(),
        "--bus",
        bus,
    ]
    if quiet:
        argv.append("--quiet")
    for s in settings:
        argv += ["--set", s]
    if mqtt:  # {"mqtt": host[:port], "user":, "base":} (the password goes by MQTT_PASSWORD)
        argv += ["--mqtt", mqtt["mqtt"]]
        if mqtt.get("user"):
            argv += ["--mqtt-user", mqtt["user"]]
        if mqtt.get("base"):
            argv += ["--mqtt-base", mqtt["base"]]
    env["UCM_TOKEN"] = token
    return subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.STDOUT if stdout else None)


def parser():
    p = argparse.ArgumentParser(
        prog="sim.py", description="The UCM firmware on this PC against a simulated water heater."
    )
    env = os.environ.get
    p.add_argument("--http-host", default="127.0.0.1", help="HTTP address (default %(default)s)")
    p.add_argument("--http-port", type=int, default=int(env("PORT") or 8080), help="HTTP port (PORT=, default 8080)")
    p.add_argument(
        "--serial", default=env("SERIAL") or None, help="a real SGD's tty instead of the simulator (SERIAL=)"
    )
    p.add_argument(
        "--quiet", action="store_true", default=env("QUIET", "") not in ("", "0"), help="no frame trace (QUIET=1)"
    )
    p.add_argument(
        "--firmware",
        default=env("FIRMWARE") or "micropython",
        choices=runtime.CHOICES,
        help="what runs the firmware process (FIRMWARE=, default micropython: the venv's unix port)",
    )
    p.add_argument("--micropython", default=env("MICROPYTHON") or None, help="the unix-port binary (MICROPYTHON=)")
    p.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="an engine setting, e.g. heartbeat_ms=10000"
    )
    p.add_argument(
        "--bus",
        default=env("BUS") or "cta2045",
        choices=("cta2045", "ninebit-listen", "auto"),
        help="the firmware's bus personality (BUS=, default cta2045)",
    )
    p.add_argument(
        "--heater",
        default=env("HEATER") or None,
        choices=("cta2045", "ninebit"),
        help="the simulated heater's bus (HEATER=; default: ninebit for BUS=ninebit-listen, else cta2045)",
    )
    p.add_argument(
        "--mqtt",
        default=env("MQTT") or None,
        metavar="HOST[:PORT]",
        help="an MQTT broker for Home Assistant (MQTT=; MQTT_USER=, MQTT_PASSWORD=, MQTT_BASE= default ucm/ucm-host)",
    )
    p.add_argument("--no-intermediate", action="store_true", help="simulator: a heater without Intermediate DR")
    p.add_argument("--seed", type=int, default=0, help="simulator: random seed")
    return p


async def _simulate(sim, port, proc):
    """Serve the simulator until the firmware exits; stdin lines drive the simulator."""
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def read_stdin():
        try:
            sgd_sim.read_lines(sys.stdin, lambda line: loop.call_soon_threadsafe(lines.put_nowait, line))
        except (OSError, ValueError, RuntimeError):
            pass
        print("sim.py: end of standard input: no more simulator commands", flush=True)

    if sys.stdin is not None:  # a terminal, a pipe or a fifo
        threading.Thread(target=read_stdin, daemon=True).start()
    else:
        print("sim.py: no standard input: the simulator takes no commands")
    if isinstance(sim, ninebit_sim.NineBitSim):
        task = asyncio.create_task(ninebit_sim.run(sim, port))
    else:
        task = asyncio.create_task(sgd_sim.run(sim, port))
    try:
        while proc.poll() is None:
            try:
                line = await asyncio.wait_for(lines.get(), 0.2)
            except asyncio.TimeoutError:
                continue
            if isinstance(sim, ninebit_sim.NineBitSim):
                text = sim.command(line) if line.strip() else ""
            else:
                try:
                    text = sgd_sim.command(sim, line)
                except sgd_sim._Quit:
                    return
            if text:
                print("sim: " + text, flush=True)
    finally:
        task.cancel()


def main(argv=None):
    a = parser().parse_args(argv)
    if not 0 < a.http_port < 65536:
        print("sim.py: PORT must be 1..65535")
        return 2
    token = os.environ.get("UCM_TOKEN") or secrets.token_urlsafe(18)
    if not (8 <= len(token) <= 128 and token.strip() == token):
        print("sim.py: UCM_TOKEN must be 8..128 characters without surrounding spaces")
        return 2
    sim = port = None
    heater = a.heater or ("ninebit" if a.bus == "ninebit-listen" else "cta2045")
    if a.serial:
        try:
            ports.configure_tty(a.serial, ninebit=a.bus == "ninebit-listen")
        except OSError as e:
            print("sim.py: cannot use %s: %s" % (a.serial, e.strerror or e))
            return 1
        path = a.serial
    else:
        master, slave, path = ports.open_pty()
        os.close(slave)
        port = ports.FdPort(master)
        if heater == "ninebit":
            sim = ninebit_sim.NineBitSim()
        else:
            sim = sgd_sim.SgdSim(seed=a.seed, intermediate=not a.no_intermediate)
    env = dict(os.environ)
    if a.micropython:
        env["MICROPYTHON"] = a.micropython
    try:
        name, mp, note = runtime.choose(a.firmware, env)
    except ValueError as e:
        print("sim.py: %s" % e)
        return 2
    if note:
        print("sim.py: " + note)
    url = "http://%s:%d/" % (a.http_host, a.http_port)
    mqtt_base = os.environ.get("MQTT_BASE") or "ucm/ucm-host"
    mqtt = {"mqtt": a.mqtt, "user": os.environ.get("MQTT_USER"), "base": mqtt_base} if a.mqtt else None
    print("UCM firmware (host board, %s) on %s" % ("MicroPython unix port" if mp else "CPython", path))
    print("  HTTP API:  %s   (status: %sapi/status)" % (url, url))
    print("  API token: %s" % token)
    print(
        '  try:       curl -X POST -H "Authorization: Bearer %s" -H "Content-Type: application/json" -d '
        "'{\"duration_s\": 600}' %sapi/dr/shed" % (token, url)
    )
    if a.mqtt:
        print("  MQTT:      %s, topics under %s, discovery under homeassistant/" % (a.mqtt, mqtt_base))
    if a.bus != "cta2045":
        print("  bus:       %s   (9-bit frames: %sapi/ninebit/frames, words: %sapi/ninebit/params)" % (a.bus, url, url))
    if heater == "ninebit" and sim:
        print("  simulator: a 9-bit bus heater; type setpoint 125, mode 2, tank 0 50.5, corrupt 1, silent on|off")
    elif sim:
        print("  simulator: type 'help' for commands (override on, silent 10, corrupt 1, reboot, ...)")
    print(flush=True)
    try:
        proc = start_firmware(path, a.http_host, a.http_port, token, a.quiet, a.set, mp, bus=a.bus, mqtt=mqtt)
    except OSError as e:
        print("sim.py: cannot start the firmware: %s" % e)
        return 1
    try:
        if sim:
            asyncio.run(_simulate(sim, port, proc))
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
        if port:
            port.close()
    return proc.returncode if proc.returncode and proc.returncode > 0 else 0


if __name__ == "__main__":
    sys.exit(main())
