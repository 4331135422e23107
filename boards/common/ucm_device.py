# What the MicroPython device boards (pico_w, esp32) share: the RS-485 port from a pin
# map, the status LED, watchdog, reset cause, wall-clock time from NTP, free RAM. A
# board module sets its pin map and quirks and re-exports these (boards/<name>/ucm_board.py).

import time

import machine
from cta2045.basic import EPOCH_2000

from ucm_rs485 import RX_BUFFER, Rs485Port

# machine.reset_cause() values -> names (the constants differ per port)
_CAUSES = ("PWRON_RESET", "HARD_RESET", "WDT_RESET", "DEEPSLEEP_RESET", "SOFT_RESET")
# Unix time at the port's epoch: 0 where time.time() counts from 1970, else 2000-01-01
_EPOCH = 0 if time.gmtime(0)[0] == 1970 else EPOCH_2000
_synced = False  # the clock has been set from NTP since boot


def open_port(pins, cfg, baud=19200, early_flush=False):
    """The Rs485Port on the board's UART. cfg["transceiver"]: "de" (DE/RE on a GPIO)
    or "auto" (auto-direction part: no DE pin, own echo discarded)."""
    auto = cfg.get("transceiver") == "auto"
    return Rs485Port(uart(pins, baud), None if auto else de_pin(pins), baud, echo=auto, early_flush=early_flush)


def uart(pins, baud=19200, parity=None):
    """The board's bus UART: 8 data bits, the given parity, 1 stop bit, non-blocking."""
    return machine.UART(
        pins["uart"],
        baudrate=baud,
        bits=8,
        parity=parity,
        stop=1,
        tx=machine.Pin(pins["tx"]),
        rx=machine.Pin(pins["rx"]),
        rxbuf=RX_BUFFER,
        timeout=0,
        timeout_char=0,
    )


def de_pin(pins):
    return machine.Pin(pins["de"], machine.Pin.OUT, value=0)


class Led:
    """The status LED: on() / off() / toggle(); silent when the pin does not exist."""

    def __init__(self, pin):
        try:
            self.p = machine.Pin(pin, machine.Pin.OUT, value=0)
        except (ValueError, TypeError):
            self.p = None

    def set(self, on):
        if self.p:
            self.p.value(1 if on else 0)

    def toggle(self):
        if self.p:
            self.p.value(1 - self.p.value())


def watchdog(timeout_ms):
    """Start machine.WDT (it cannot be stopped once started)."""
    return machine.WDT(timeout=timeout_ms)


def feed_forever(wdt):
    """Feed wdt from a timer from now on: only once the firmware has been stopped at the
    REPL, so that a session there is not cut short by a reset."""
    try:
        return machine.Timer(-1, period=1000, callback=lambda t: wdt.feed())  # rp2: virtual
    except (ValueError, TypeError):
        return machine.Timer(0, period=1000, callback=lambda t: wdt.feed())  # esp32: hardware


def reset_cause():
    c = machine.reset_cause()
    for name in _CAUSES:
        if getattr(machine, name, None) == c:
            return name.lower()
    return "unknown (%d)" % c


def reset():
    machine.reset()


def network():
    import network

    return network


def ntp_sync(host):
    """Set the RTC from NTP (blocking, about 1 s at most); OSError on failure."""
    global _synced
    import ntptime

    ntptime.host = host
    ntptime.settime()
    _synced = True


def unix_time():
    """UTC now in Unix seconds, or None until NTP has set the clock."""
    return int(time.time()) + _EPOCH if _synced else None
