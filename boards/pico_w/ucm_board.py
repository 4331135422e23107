# Raspberry Pi Pico W (RP2040 + CYW43 Wi-Fi). Wiring and transceiver: boards/README.md.
#   UART0 TX GP0, RX GP1; DE/RE GP2; status LED "LED" (behind the wireless chip)
# Any pin can be moved with "pins" in the config file (ucm.json).

from ucm_device import Led, feed_forever, network, ntp_sync, reset, reset_cause, unix_time, watchdog  # noqa: F401
import ucm_device as device

NAME = "pico_w"
PINS = {"uart": 0, "tx": 0, "rx": 1, "de": 2, "led": "LED"}
WDT_MAX_MS = 8388  # RP2040 watchdog maximum
CONFIG_PATH = "ucm.json"
PAGE = "www/index.html.gz"
DEFAULTS = {}  # board-specific config defaults over firmware/ucm_config.py's


def open_port(cfg, pins=None):
    # rp2's flush() waits for TX FIFO empty and the UART not BUSY: after the stop bit
    return device.open_port(pins or PINS, cfg, early_flush=False)


def open_ninebit(cfg, pins=None):
    """The 9-bit bus on the same pins through PIO (pio9.py): the 9th bit seen on
    receive and set on send; DE driven by the TX program's side-set."""
    from ucm_pio9 import Pio9Port

    pins = pins or PINS
    return Pio9Port(pins["tx"], pins["rx"], pins["de"])
