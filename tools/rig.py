# The `make sim` set-up, scriptable: the firmware (host board) in its own process on one
# end of a real pseudo-terminal, the simulated water heater on the other end in a thread
# of this process (so callers can inject faults and read its state), and an HTTP client
# for the firmware's API on 127.0.0.1. Used by the end-to-end tests and the benchmark.

import asyncio
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

import ninebit_sim
import ports
import sgd_sim
import sim as launcher


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rig:
    def __init__(
        self,
        log_path,
        token,
        settings=(),
        sim_settings=None,
        seed=3,
        trace=None,
        bus="cta2045",
        heater="cta2045",
        start=None,
        mqtt=None,
    ):
        """bus: the firmware's bus personality; heater: "cta2045" (tools/sgd_sim) or
        "ninebit" (tools/ninebit_sim.py, a round every 200 ms). start: a function
        (serial path, http port, token, log file) -> Popen that starts the firmware
        another way (tools/ram.py: a deploy tree under a 32-bit unix port). mqtt: MQTT
        for the firmware, {"mqtt": "host:port", "user":, "base":} (tools/sim.py)."""
        master, slave, self.path = ports.open_pty()
        os.close(slave)
        self.token = token
        self.port = ports.FdPort(master)
        if heater == "ninebit":
            self.sim = ninebit_sim.NineBitSim()
        else:
            self.sim = sgd_sim.SgdSim(seed=seed, trace=trace, **(sim_settings or {}))
        self.loop = asyncio.new_event_loop()
        self.task = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(5)
        self.http = free_port()
        self.log = open(log_path, "w+")
        if start is not None:
            self.proc = start(self.path, self.http, token, self.log)
        else:
            self.proc = launcher.start_firmware(
                self.path, "127.0.0.1", self.http, token, False, list(settings), stdout=self.log, bus=bus, mqtt=mqtt
            )

    def _serve(self, ready):
        asyncio.set_event_loop(self.loop)
        if isinstance(self.sim, ninebit_sim.NineBitSim):
            self.task = self.loop.create_task(ninebit_sim.run(self.sim, self.port, period_ms=200))
        else:
            self.task = self.loop.create_task(sgd_sim.run(self.sim, self.port, poll_ms=1))
        ready.set()
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass

    def do(self, fn, *args):
        """Call fn(*args) on the simulator's own thread and return its result."""

        async def call():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(5)

    def api(self, method, path, body=None, token=True, raw=None, timeout=15):
        """(status, decoded JSON) of one request; token=True uses the rig's token."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http, path), data=data, method=method)
        tok = self.token if token is True else token
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def wait(self, pred, timeout=20, what="condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                v = pred()
                if v:
                    return v
            except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s; firmware output ends:\n%s" % (what, self.output()[-3000:]))

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def status(self):
        return self.api("GET", "/api/status")[1]

    def wait_up(self, timeout=20):
        return self.wait(lambda: (lambda s: s["link"]["state"] == "up" and s)(self.status()), timeout, "link up")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except Exception:
            self.proc.kill()
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(5)
        self.port.close()
        self.log.close()
