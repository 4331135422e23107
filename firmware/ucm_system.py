# The running firmware's own objects (resident after start-up): System, the firmware's side of
# the API (status, config changes, restarts), the status LED task, and the coroutine factories
# the supervisor restarts. Everything that is needed only to start is in ucm_compose.py, which is
# dropped from the heap once composed.

import asyncio

import ucm_heap as heap
from ucm import __version__ as VERSION


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
            "startup_failures": dict(self.sup.startup),
        }
        out.update(heap.status())
        return out

    def change(self, app, changes, fail):
        """Apply and save a partial config; engine settings and the token at once.
        Returns the answer's dict, or fail(ValueError) when the change is refused."""
        from ucm_config_check import change

        try:
            return change(self, app, changes, fail)
        finally:
            heap.drop("ucm_config_check", "ucm.limits")  # the checks: off the heap again

    def restart_soon(self, ms=500):
        from ucm.clock import sleep_ms

        async def later():
            await sleep_ms(ms)
            self.log("ucm: restarting")
            self.board.reset()

        asyncio.create_task(later())


async def _blink(led, ucm):
    # the status LED: steady on while the link is up, slow blink otherwise
    from ucm.clock import sleep_ms

    while True:
        if ucm.engine.state == "up":
            led.set(True)
        else:
            led.toggle()
        await sleep_ms(500)


def http_task(api, app, host, port):
    """The supervisor's factory for the HTTP server task."""
    return lambda: api.serve(app, host, port)


def led_task(led, ucm):
    return lambda: _blink(led, ucm)


def counter(obj, name):
    """A task's progress for the supervisor: obj.<name> now."""
    return lambda: getattr(obj, name)
