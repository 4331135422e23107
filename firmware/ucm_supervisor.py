# Keeps the firmware's tasks running and feeds the watchdog only while they work.
# Each task is a coroutine factory: when it raises or returns, the reason is logged and
# counted and it is started again after a pause. A task can report progress (a counter
# that changes while it works); when all of them have moved within stall_ms, the
# watchdog is fed. A task that stops moving is restarted once, and the watchdog is not
# fed until it moves again: if it does not, the watchdog resets the board. A blocked
# event loop stops the supervisor itself, with the same result.

import asyncio

import ucm_heap as heap

from ucm.clock import sleep_ms, ticks_diff, ticks_ms


RESTART_MS = 2000  # pause before a restart (doubles up to 60 s for unwatched tasks)
STALL_MS = 5000  # a watched task without progress this long is stalled (< WDT 8.3 s)
PERIOD_MS = 1000  # supervisor checks (and watchdog feeds) this often


class Supervisor:
    def __init__(self, log=print, clock=ticks_ms, restart_ms=None, stall_ms=None, period_ms=None):
        self.log = log
        self.clock = clock
        self.restart_ms = restart_ms or RESTART_MS
        self.stall_ms = stall_ms or STALL_MS
        self.period_ms = period_ms or PERIOD_MS
        self.tasks = {}  # name -> record
        self.fed = 0  # watchdog feeds
        self.stalled = []  # names of tasks without progress right now
        self.error = None  # the exception of a fatal task
        self.startup = {}  # part -> {"failures", "last_error", "fallback"}: failed while starting

    def add(self, name, factory, progress=None, fatal=False):
        """factory() -> a coroutine; progress() -> a value that changes while the task
        works, or None while it legitimately waits (e.g. parked on I/O: counts as
        moving). progress None: the task may wait indefinitely, e.g. for a connection;
        it only has to stay running. fatal: an exception from this task ends run() with it (on a
        PC, e.g. an HTTP port in use) instead of a restart."""
        self.tasks[name] = {
            "factory": factory,
            "progress": progress,
            "task": None,
            "fatal": fatal,
            "restarts": 0,
            "last_error": None,
            "seen": None,
            "at": self.clock(),
            "kicked": 0,
        }

    def start(self):
        for name in self.tasks:
            self._spawn(name)

    def _spawn(self, name):
        r = self.tasks[name]
        r["at"] = self.clock()
        r["task"] = asyncio.create_task(self._keep(name))

    async def _keep(self, name):
        r = self.tasks[name]
        pause = self.restart_ms
        while True:
            try:
                await r["factory"]()
                why = "returned"
            except asyncio.CancelledError:
                raise
            except Exception as e:  # any failure: log, count, start again
                if r["fatal"]:
                    self.error = e
                    return
                why = "%s: %s" % (type(e).__name__, e)
            self._ended(name, why)
            await sleep_ms(pause)
            if r["progress"] is None:  # a watched task keeps a short pause (< stall_ms)
                pause = min(pause * 2, 60000)

    def _ended(self, name, why):
        r = self.tasks[name]
        r["restarts"] += 1
        r["last_error"] = why
        r["at"] = self.clock()
        self.log("supervisor: task %s ended (%s); restart %d" % (name, why, r["restarts"]))

    def check(self):
        """Names of the tasks that have not shown progress within stall_ms. A stalled
        task is cancelled and started again, once per stall."""
        now = self.clock()
        out = []
        for name in self.tasks:
            r = self.tasks[name]
            if r["progress"] is None:
                continue
            v = r["progress"]()
            if v is None or v != r["seen"]:
                r["seen"] = v
                r["at"] = now
                if r["kicked"]:
                    r["kicked"] -= 1  # a restarted task must move at two checks in a row
            elif r["kicked"]:
                r["kicked"] = 2
            if r["kicked"] or ticks_diff(now, r["at"]) > self.stall_ms:
                # stalled; after its one restart it counts as stalled until it moves again
                out.append(name)
                if not r["kicked"]:
                    r["task"].cancel()
                    self._ended(name, "no progress for %d ms" % ticks_diff(now, r["at"]))
                    self._spawn(name)
                    r["kicked"] = 2
        self.stalled = out
        return out

    async def run(self, wdt=None):
        """Start the tasks and watch them for ever."""
        self.start()
        while True:
            if self.error is not None:
                raise self.error
            heap.sample()  # the low-water mark (firmware/ucm_heap.py)
            if not self.check() and wdt is not None:
                wdt.feed()
                self.fed += 1
            await sleep_ms(self.period_ms)

    def status(self):
        out = {}
        for name in self.tasks:
            r = self.tasks[name]
            out[name] = {"restarts": r["restarts"], "last_error": r["last_error"], "stalled": name in self.stalled}
        return out
