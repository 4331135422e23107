# The device application: composes a board (its RS-485 port, clock, Wi-Fi, watchdog),
# the config, the UCM engine and the HTTP API, and runs them on one asyncio loop under a
# supervisor that restarts any task that fails and feeds the watchdog only while they
# all work. It never exits on its own.
#   On a board: deployed as ucm_main (make deploy); /main.py calls main().
#   On a PC:    python firmware/main.py --serial PATH ...  (the host board, boards/host;
#               tools/sim.py puts lib/, firmware/ and boards/host on the module path)

import asyncio
import sys

import heap

VERSION = "0.2.0"
SEND_WARNING = ("sending on the 9-bit bus is on: the write protocol is not public, and frames sent "
                "reach the heater's own boards; replay only what a real module was seen sending")


def trace_line(d, data, now, note):
    """One line per frame on the wire: seconds since start, direction, hex, what it is."""
    from cta2045.message import hexstr
    from ucm.trace import describe

    arrow = "UCM->SGD" if d == "tx" else "SGD->UCM"
    print("%10.3f %s %-24s %s" % (now / 1000, arrow, hexstr(data), note or describe(data)))


class System:
    """The firmware's side of the API: its status, the config store, restarts."""

    def __init__(self, board, config, ucm, sup, wifi=None, log=print, bus=None, ninebit=None):
        self.board = board
        self.bus = bus or {"setting": "cta2045", "active": "cta2045", "why": "configured"}
        self.ninebit = ninebit  # the NineBitBus while a 9-bit personality is active
        self.config = config
        self.ucm = ucm
        self.sup = sup
        self.wifi = wifi
        self.log = log
        self.can_restart = hasattr(board, "reset")
        self.reset_cause = board.reset_cause() if hasattr(board, "reset_cause") else None

    def status(self):
        c = self.config
        out = {
            "board": self.board.NAME,
            "version": VERSION,
            "reset_cause": self.reset_cause,
            "config": c.state() if c else None,
            "wifi": self.wifi.status() if self.wifi else None,
            "tasks": self.sup.status(),
            "watchdog_feeds": self.sup.fed,
            "startup_failures": self.sup.startup_status(),
        }
        out.update(heap.status())
        return out

    def change(self, app, changes, fail):
        """Apply and save a partial config; engine settings and the token at once."""
        c = self.config
        try:
            changed = c.update(changes)
        except ValueError as e:
            return fail(e)
        saved = False
        if c.path:
            try:
                c.save()
                saved = True
            except OSError as e:
                self.log("config: cannot save %s: %s" % (c.path, e))
        if "settings" in changed:
            self.ucm.engine.s.update(c.data["settings"])
        if "token" in changed:
            app.set_token(c.data["token"])
        from config import LIVE

        later = [k for k in changed if k not in LIVE]
        if changed:
            self.log("config: changed %s%s" % (", ".join(changed), "" if saved else " (not saved)"))
        return {"config": c.public(), "changed": changed, "saved": saved, "restart_needed": later}

    def restart_soon(self, ms=500):
        from ucm.clock import sleep_ms

        async def later():
            await sleep_ms(ms)
            self.log("ucm: restarting")
            self.board.reset()

        asyncio.create_task(later())


def _pins(board, cfg):
    p = dict(board.PINS)
    p.update(cfg["pins"])
    return p


async def start(board, config, host="0.0.0.0", quiet=True, log=print, page=None):
    """Compose and run everything; never returns. config: a Config (firmware/config.py)
    already loaded."""
    from ucm.runner import Ucm
    from ucm.settings import Settings

    import api
    from supervisor import Supervisor

    heap.start()
    cfg = config.data
    device = hasattr(board, "PINS")
    pins = _pins(board, cfg) if device else None
    sup = Supervisor(log)
    # The watchdog runs before any port is opened: a driver that hangs while starting
    # resets the board instead of leaving it dead. The supervisor feeds it from run().
    wdt = None
    ms = cfg["watchdog_ms"]
    if ms and hasattr(board, "watchdog"):
        ms = min(ms, board.WDT_MAX_MS)
        wdt = board.watchdog(ms)
        log("ucm: watchdog on, %d ms" % ms)
    board.wdt = wdt  # kept for the REPL hand-over (main)
    try:
        bus, ninebit = await _choose_bus(board, cfg, pins, log, wdt)
    except Exception as e:  # a 9-bit driver that cannot start must not leave a dead board
        why = "the 9-bit port failed to start (%s: %s): CTA-2045 instead" % (type(e).__name__, e)
        sup.failed_at_start("ninebit-port", e, "CTA-2045 instead")
        bus, ninebit = {"setting": cfg["bus"], "active": "cta2045", "why": why, "error": str(e)}, None
    port = None
    if ninebit is None:
        port = board.open_port(cfg, pins) if device else board.open_port(cfg)
    ucm = Ucm(port, Settings(**cfg["settings"]), board.unix_time, None if quiet else trace_line)
    wifi = None
    if hasattr(board, "network"):
        from wifi import Wifi

        ucm.set_upstream(False)  # "lost" until the network is joined
        wifi = Wifi(board.network(), cfg, ucm.set_upstream, log, board.ntp_sync)
        sup.add("wifi", wifi.run, lambda: wifi.loops)
    system = System(board, config, ucm, sup, wifi, log, bus, ninebit)
    app = api.make_app(ucm, cfg["token"], log=log, page_file=page, system=system, max_clients=cfg["http_clients"])
    if ninebit is None:
        sup.add("engine", ucm.run, lambda: ucm.polls)
        if hasattr(port, "recv_into"):
            sup.add("rs485", ucm.receive, ucm.rx_progress)
    else:  # the CTA-2045 engine stays idle: its link is down, commands answer 503
        sup.add("ninebit", ninebit.run)
    sup.add("http", lambda: api.serve(app, host, cfg["http_port"]), fatal=not device)
    if hasattr(board, "Led"):
        led = board.Led(pins["led"])
        sup.add("led", lambda: _blink(led, ucm))
    log("ucm: %s firmware %s, reset cause: %s" % (board.NAME, VERSION, system.reset_cause))
    if config.error:
        log("config: %s" % config.error)
    if not cfg["token"]:
        log("ucm: no API token configured: changes are refused until one is set (set-up page)")
    log("ucm: HTTP API on http://%s:%d/" % (host, cfg["http_port"]))
    free = heap.collect()
    if free is not None:
        log("ucm: started, mem_free %d, mem_alloc %s" % (free, heap.status()["mem_alloc"]))
    board.system = system  # at the REPL after Ctrl-C: board.system.status()
    await sup.run(wdt)


async def _choose_bus(board, cfg, pins, log, wdt=None):
    """The bus personality: (status dict {setting, active, why}, the NineBitBus of a
    9-bit personality or None for CTA-2045). wdt: fed while `auto` listens."""
    setting = cfg["bus"]
    active = setting
    why = "configured"
    can9 = hasattr(board, "open_ninebit")
    if setting == "auto":
        if not can9:
            active, why = "cta2045", "this board has no 9-bit port"
        else:
            from ninebit_bus import detect

            p9 = board.open_ninebit(cfg, pins)
            found, why = await detect(p9, cfg["bus_detect_s"], feed=wdt.feed if wdt else None)
            p9.close()
            active = "ninebit-listen" if found else "cta2045"
    elif setting != "cta2045" and not can9:
        active, why = "cta2045", "this board has no 9-bit port"
    bus = {"setting": setting, "active": active, "why": why}
    if active == "ninebit":
        bus["warning"] = SEND_WARNING
    log("ucm: bus %s (%s: %s)" % (active, setting, why))
    if active == "cta2045":
        return bus, None
    from ninebit_bus import NineBitBus

    nb = NineBitBus(board.open_ninebit(cfg, pins), transmit=active == "ninebit", gap_ms=cfg["ninebit_gap_ms"])
    if active == "ninebit":
        log("ninebit: SENDING IS ON: " + SEND_WARNING)
    return bus, nb


async def _blink(led, ucm):
    # the status LED: steady on while the link is up, slow blink otherwise
    from ucm.clock import sleep_ms

    while True:
        if ucm.engine.state == "up":
            led.set(True)
        else:
            led.toggle()
        await sleep_ms(500)


def _host_config(board, argv):
    # The host board takes its options from the command line: a Config without a file
    from config import Config

    o = board.options(argv)
    c = Config(None)
    c.update({"http_port": o["http_port"], "settings": o["settings"], "bus": o["bus"],
              "http_clients": o["http_clients"]})
    c.data["token"] = o["token"]  # from UCM_TOKEN, or generated: not checked for length
    c.source = "command line"
    c.error = None
    return o, c


def main(board=None, argv=None):
    if board is None:
        import board
    try:
        if hasattr(board, "options"):  # the host board: command line
            o, config = _host_config(board, argv)
            args = (o["http_host"], o["quiet"])
            page = o["page"]
        else:
            from config import Config

            config = Config(board.CONFIG_PATH, board.DEFAULTS).load()
            args = ("0.0.0.0", True)
            page = board.PAGE
    except ValueError as e:
        print("ucm: %s" % e)
        sys.exit(2)
    try:
        asyncio.run(start(board, config, args[0], args[1], page=page))
    except KeyboardInterrupt:
        # Stopped from the REPL (make repl, deploy): a running watchdog cannot be
        # stopped, so a timer feeds it from now on and the session is not cut by a
        # reset. A power cycle or machine.reset() starts the firmware again.
        wdt = getattr(board, "wdt", None)
        if wdt is not None:
            board.feed_forever(wdt)
            print("ucm: stopped; the watchdog is fed by a timer until reset")
    except OSError as e:  # e.g. the serial path cannot be opened
        print("ucm: %s" % e)
        sys.exit(1)


if __name__ == "__main__":
    main()
