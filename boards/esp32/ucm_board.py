# Generic ESP32-WROOM-32 DevKit. Wiring and transceiver: boards/README.md.
#   UART2 TX GPIO17, RX GPIO16; DE/RE GPIO4; status LED GPIO2
# UART0 is the USB REPL; UART1's default pins are the SPI flash's, hence UART2.
# Any pin can be moved with "pins" in the config file (ucm.json).

from ucm_device import Led, feed_forever, network, ntp_sync, reset, reset_cause, unix_time, watchdog  # noqa: F401
import ucm_device as device

NAME = "esp32"
PINS = {"uart": 2, "tx": 17, "rx": 16, "de": 4, "led": 2}
WDT_MAX_MS = 8388  # the same limit as the Pico W, so one config works on both
CONFIG_PATH = "ucm.json"
PAGE = "www/index.html.gz"
DEFAULTS = {"http_clients": 2}  # about 100 KB of heap: two requests at a time (make ram)


def open_port(cfg, pins=None):
    # ESP32's flush() returns with the last character still shifting out: one more
    # character time before DE drops
    return device.open_port(pins or PINS, cfg, early_flush=True)


def open_ninebit(cfg, pins=None):
    """The 9-bit bus: 8 data bits + even parity frames its 11-bit characters; no 9th
    bit on receive, parity chosen per byte on send (uart9.py). Needs a DE pin."""
    from ucm_uart9 import Uart9Port

    pins = pins or PINS
    return Uart9Port(device.uart(pins, parity=0), device.de_pin(pins))
