# Start-up only: composes a board (its RS-485 port, clock, Wi-Fi, watchdog), the
# config, the UCM engine and the HTTP API into a supervisor (firmware/main.py runs it).
# Imported once; main.py drops it from sys.modules when build() returns, so none of
# this code stays on the heap: nothing that runs afterwards may be defined here.

import ucm_system as system

SEND_WARNING = (
    "sending on the 9-bit bus is on: its write protocol is not public; "
    "replay only frames a real module was seen sending"
)


def _pins(board, cfg):
    p = dict(board.PINS)
    p.update(cfg["pins"])
    return p


def _failed_at_start(sup, part, exc, fallback):
    # A part of the firmware (e.g. a board driver) raised while starting and `fallback`
    # runs instead: logged and counted in sup.startup, shown in /api/status
    why = "%s: %s" % (type(exc).__name__, exc)
    r = sup.startup.setdefault(part, {"failures": 0, "last_error": None, "fallback": fallback})
    r["failures"] += 1
    r["last_error"] = why
    r["fallback"] = fallback
    sup.log("supervisor: %s failed to start (%s); %s" % (part, why, fallback))


async def build(board, config, host="0.0.0.0", quiet=True, log=print, page=None):
    """Compose everything: (supervisor, watchdog or None), ready for supervisor.run.
    config: a Config (firmware/ucm_config.py) already loaded."""
    from ucm.runner import Ucm
    from ucm.settings import Settings

    import ucm_api as api
    from ucm_supervisor import Supervisor

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
        _failed_at_start(sup, "ninebit-port", e, "CTA-2045 instead")
        bus, ninebit = {"setting": cfg["bus"], "active": "cta2045", "why": why, "error": str(e)}, None
    port = None
    if ninebit is None:
        port = board.open_port(cfg, pins) if device else board.open_port(cfg)
    ucm = Ucm(port, Settings(**cfg["settings"]), board.unix_time, None if quiet else getattr(board, "trace_line", None))
    wifi = None
    if hasattr(board, "network"):
        from ucm_wifi import Wifi

        ucm.set_upstream(False)  # "lost" until the network is joined
        wifi = Wifi(board.network(), cfg, ucm.set_upstream, log, board.ntp_sync)
        sup.add("wifi", wifi.run, system.counter(wifi, "loops"))
    state = system.System(board, config, ucm, sup, wifi, log, bus, ninebit)
    name = cfg["wifi"]["hostname"]
    hosts = [name, name + ".local"] + [h.strip() for h in cfg["http_hosts"].split(",") if h.strip()]
    app = api.make_app(
        ucm, cfg["token"], log=log, page_file=page, system=state, max_clients=cfg["http_clients"], hosts=hosts
    )
    if ninebit is None:
        sup.add("engine", ucm.run, system.counter(ucm, "polls"))
        if hasattr(port, "recv_into"):
            sup.add("rs485", ucm.receive, ucm.rx_progress)
    else:  # the CTA-2045 engine stays idle: its link is down, commands answer 503
        sup.add("ninebit", ninebit.run)
    sup.add("http", system.http_task(api, app, host, cfg["http_port"]), fatal=not device)
    if hasattr(board, "Led"):
        led = board.Led(pins["led"])
        sup.add("led", system.led_task(led, ucm))
    if hasattr(board, "extra_tasks"):
        board.extra_tasks(sup, state)
    log("ucm: %s firmware %s, reset cause: %s" % (board.NAME, system.VERSION, state.reset_cause))
    if config.error:
        log("config: %s" % config.error)
    if not cfg["token"]:
        log("ucm: no API token yet: changes are refused until one is set (set-up page)")
    log("ucm: HTTP API on http://%s:%d/" % (host, cfg["http_port"]))
    board.system = state  # at the REPL after Ctrl-C: board.system.status()
    return sup, wdt


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
            from ucm_ninebit_bus import detect

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
    from ucm_ninebit_bus import NineBitBus

    nb = NineBitBus(board.open_ninebit(cfg, pins), transmit=active == "ninebit", gap_ms=cfg["ninebit_gap_ms"])
    if active == "ninebit":
        log("ninebit: SENDING IS ON: " + SEND_WARNING)
    return bus, nb


def prepare(board, argv=None):
    """(config, HTTP host, quiet, page file) for main(): from the command line on the
    host board, from the config file on a device. ValueError for bad options."""
    if hasattr(board, "prepare"):  # the host board: from its command line
        return board.prepare(argv)
    from ucm_config import Config

    return Config(board.CONFIG_PATH, board.DEFAULTS).load(), "0.0.0.0", True, board.PAGE
