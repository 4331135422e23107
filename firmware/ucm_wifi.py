# Wi-Fi for the device boards: station mode with reconnect and back-off; an access point
# for set-up when no network is configured, or when the configured one cannot be joined
# for ap.after_s; the wall clock from NTP once online. Every change of "online" goes to
# on_change(bool): the engine reports it to the SGD as outside-communication status
# (found / lost, PROTOCOL.md section 3.4).
#   w = Wifi(network_module, cfg, on_change, log, ntp_sync); await w.run()
# The access point's code is in ucm_wifi_ap, imported the first time it is needed.

from ucm.clock import sleep_ms, ticks_add, ticks_diff, ticks_ms

CONNECT_TIMEOUT_MS = 20000  # one join attempt
BACKOFF_MS = (2000, 60000)  # pause after a failed attempt: first, then doubling to max
NTP_RETRY_MS = 300000  # NTP failed: try again after 5 min
NTP_PERIOD_MS = 6 * 3600000  # and re-sync every 6 h
STEP_MS = 250


class Wifi:
    def __init__(self, network, cfg, on_change, log=print, ntp_sync=None, clock=ticks_ms):
        self.net = network
        self.cfg = cfg
        self.on_change = on_change
        self.log = log
        self.ntp_sync = ntp_sync
        self.clock = clock
        self.sta = None
        self.ap = None
        self.online = False
        self.ip = None
        self.ap_active = False
        self.attempts = 0  # failed joins since the last success
        self.drops = 0  # times a joined network was lost
        self.loops = 0  # the supervisor's sign of progress
        self.ntp_ok = False
        self._ntp_due = None

    def status(self):
        return {
            "online": self.online,
            "ip": self.ip,
            "ssid": self.cfg["wifi"]["ssid"] or None,
            "ap": self.cfg["ap"]["ssid"] if self.ap_active else None,
            "attempts": self.attempts,
            "drops": self.drops,
            "ntp": self.ntp_ok,
        }

    def _set_online(self, ok):
        if ok != self.online:
            self.online = ok
            self.on_change(ok)

    async def _wait(self, ms):
        t0 = self.clock()
        while ticks_diff(self.clock(), t0) < ms:
            self.loops += 1
            await sleep_ms(STEP_MS)

    async def _join(self, ssid, password):
        # True when joined within CONNECT_TIMEOUT_MS
        try:
            self.sta.connect(ssid, password)
        except OSError as e:
            self.log("wifi: connect %s: %s" % (ssid, e))
            return False
        t0 = self.clock()
        while ticks_diff(self.clock(), t0) < CONNECT_TIMEOUT_MS:
            if self.sta.isconnected():
                return True
            self.loops += 1
            await sleep_ms(STEP_MS)
        try:
            self.sta.disconnect()
        except OSError:
            pass
        return False

    def _ntp(self, now):
        if self.ntp_sync is None or (self._ntp_due is not None and ticks_diff(now, self._ntp_due) < 0):
            return
        try:
            self.ntp_sync(self.cfg["ntp_host"])
            self.ntp_ok = True
            self._ntp_due = ticks_add(now, NTP_PERIOD_MS)
        except Exception as e:  # no answer, DNS failure, ...
            self.log("wifi: NTP from %s failed (%s); retry in %d s" % (self.cfg["ntp_host"], e, NTP_RETRY_MS // 1000))
            self._ntp_due = ticks_add(now, NTP_RETRY_MS)

    async def run(self):
        net = self.net
        w = self.cfg["wifi"]
        self.sta = net.WLAN(net.STA_IF)
        self.sta.active(True)
        try:
            net.hostname(w["hostname"])
        except (AttributeError, OSError, ValueError):
            pass
        pause = BACKOFF_MS[0]
        down_since = self.clock()
        if not w["ssid"]:
            self.log("wifi: no network configured")
            __import__("ucm_wifi_ap").start(self)
        while True:
            self.loops += 1
            now = self.clock()
            if self.sta.isconnected():
                if not self.online:
                    self.ip = self.sta.ifconfig()[0]
                    self.attempts = 0
                    pause = BACKOFF_MS[0]
                    self.log("wifi: joined %s as %s" % (w["ssid"], self.ip))
                    self._set_online(True)
                    self._ntp_due = None
                    if self.ap_active:
                        __import__("ucm_wifi_ap").stop(self)
                self._ntp(now)
                await self._wait(1000)
                continue
            if self.online:
                self.drops += 1
                self.ip = None
                self.log("wifi: lost %s" % w["ssid"])
                self._set_online(False)
                down_since = now
            if not w["ssid"]:
                await self._wait(1000)
                continue
            if await self._join(w["ssid"], w["password"]):
                continue
            self.attempts += 1
            self.log("wifi: cannot join %s (attempt %d); next try in %d s" % (w["ssid"], self.attempts, pause // 1000))
            if not self.ap_active and ticks_diff(self.clock(), down_since) >= self.cfg["ap"]["after_s"] * 1000:
                __import__("ucm_wifi_ap").start(self)
            await self._wait(pause)
            pause = min(pause * 2, BACKOFF_MS[1])
