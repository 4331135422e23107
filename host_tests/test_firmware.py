# The firmware's composition (firmware/main.py) on the PC with the Pico W board module
# and stand-ins for machine, network and ntptime (host_tests/standins): the RS-485 UART
# joined to the simulated water heater, the HTTP API on a free port, real asyncio.
# Boot on a fresh flash, config fallback on a corrupt file, atomic saves cut short,
# Wi-Fi lost -> comm status lost -> found, the watchdog fed only while the tasks make
# progress, a failing task restarted and counted, the set-up form, /metrics.
import asyncio
import gc
import json
import os
import sys
import urllib.error
import urllib.request

import pytest

import devboard
from devboard import machine, network

import ucm_config as config_mod
import ntptime
import ports
import rig
import sgd_sim
import ucm_supervisor as supervisor
import ucm_wifi as wifi_mod
from ucm.settings import Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TOKEN = "test-token-1234"
HOME = {"ssid": "home", "password": "correct horse"}


@pytest.fixture(autouse=True)
def device(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the board's flash: ucm.json lives here
    (tmp_path / "www").mkdir()  # and the set-up page, as make deploy puts it there
    (tmp_path / "www" / "setup.html").write_bytes(
        open(os.path.join(ROOT, "firmware", "www", "setup.html"), "rb").read()
    )
    monkeypatch.setattr(gc, "mem_free", lambda: 150000, raising=False)
    monkeypatch.setattr(supervisor, "STALL_MS", 1500)
    monkeypatch.setattr(supervisor, "PERIOD_MS", 100)
    monkeypatch.setattr(supervisor, "RESTART_MS", 100)
    monkeypatch.setattr(wifi_mod, "BACKOFF_MS", (200, 400))
    monkeypatch.setattr(wifi_mod, "STEP_MS", 20)
    monkeypatch.setattr(wifi_mod, "CONNECT_TIMEOUT_MS", 1000)
    network.reset()
    network.air["networks"] = {HOME["ssid"]: HOME["password"]}
    for lst in (machine.uarts, machine.wdts, machine.timers, ntptime.calls):
        del lst[:]
    machine.state.update(reset_cause=machine.PWRON_RESET, resets=0)
    ntptime.fail[0] = False
    yield tmp_path


def write_config(tmp_path, d):
    (tmp_path / "ucm.json").write_text(json.dumps(d))


class Unit:
    """The firmware running in this loop against the simulator."""

    async def start(self, board="pico_w"):
        self.board = devboard.board(board)
        self.fw = devboard.firmware_main()
        self.config = config_mod.Config(self.board.CONFIG_PATH, self.board.DEFAULTS).load()
        self.config.data["http_port"] = self.port = rig.free_port()
        self.logs = []
        self.task = asyncio.create_task(self.fw.start(self.board, self.config, "127.0.0.1", True, self.logs.append))
        await asyncio.sleep(0)
        self.uart = self.sim = None
        if self.config.data["bus"] == "cta2045":  # the UART joined to the simulated heater
            self.uart = machine.uarts[-1]
            self.sim = sgd_sim.SgdSim(seed=1)
            wire = ports._MemoryPort()
            self.uart.peer = wire
            wire.peer = self.uart
            self.sim_task = asyncio.create_task(sgd_sim.run(self.sim, wire))
        self.system = None
        await self.until(lambda: getattr(self.board, "system", None) is not None, 2)
        self.system = self.board.system
        await self.until(self._listening, 5, "the HTTP server")
        assert "ucm_compose" not in sys.modules  # start-up code dropped once composed
        return self

    def _listening(self):
        import socket

        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    async def until(self, cond, timeout=10.0, what="condition"):
        t = 0.0
        while not cond():
            if t > timeout:
                raise AssertionError("timed out waiting for %s; firmware log:\n%s" % (what, "\n".join(self.logs[-15:])))
            await asyncio.sleep(0.05)
            t += 0.05

    async def http(self, method, path, body=None, token=None):
        def go():
            data = None if body is None else json.dumps(body).encode()
            req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method)
            if data is not None:
                req.add_header("Content-Type", "application/json")
            if token:
                req.add_header("Authorization", "Bearer " + token)
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, r.read().decode(), r.headers
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode(), e.headers

        return await asyncio.to_thread(go)

    async def json(self, method, path, body=None, token=None):
        st, text, _ = await self.http(method, path, body, token)
        return st, json.loads(text)

    def link_up(self):
        return self.system.ucm.engine.state == "up"

    def stop(self):
        self.task.cancel()
        if self.sim is not None:
            self.sim_task.cancel()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_boot_on_a_fresh_board(device):
    machine.state["reset_cause"] = machine.WDT_RESET

    async def go():
        u = await Unit().start()
        await u.until(u.link_up, what="link up")
        st, s = await u.json("GET", "/api/status")
        assert st == 200 and s["link"]["state"] == "up"
        f = s["firmware"]
        assert f["board"] == "pico_w" and f["reset_cause"] == "wdt_reset" and f["mem_free"] == 150000
        assert f["version"] == __import__("ucm").__version__
        assert f["config"]["source"] == "defaults" and "no ucm.json" in f["config"]["error"]
        assert set(f["tasks"]) == {"engine", "rs485", "http", "wifi", "led"}
        assert all(t["restarts"] == 0 for t in f["tasks"].values())
        # no network configured: the set-up access point, comm status "lost" to the SGD
        ap = network.WLAN(network.AP_IF)
        assert ap.active() and ap.cfg == {"ssid": "ucm-setup", "security": 0} and f["wifi"]["ap"] == "ucm-setup"
        assert u.sim.comm_status == 0
        # the watchdog runs and is fed
        assert machine.wdts and machine.wdts[0].timeout == 8000
        await u.until(lambda: machine.wdts[0].feeds >= 3, what="watchdog feeds")
        log = "\n".join(u.logs)
        assert "reset cause: wdt_reset" in log and "mem_free 150000" in log and "no ucm.json" in log
        # the status LED is steady on with the link up (it is looked at every 0.5 s)
        await u.until(lambda: machine.pins["LED"].value() == 1, 2, "LED on")
        await asyncio.sleep(1.2)
        assert machine.pins["LED"].value() == 1
        # no token yet: every change is refused ...
        st, r = await u.json("POST", "/api/dr/shed", {"duration_s": 60})
        assert st == 401
        # ... except the set-up form's first submission
        st, r = await u.json("POST", "/api/setup", {"ssid": "home", "password": "correct horse", "token": TOKEN})
        assert st == 200 and r["restarting"] and r["saved"]
        saved = json.loads(open("ucm.json").read())
        assert saved.pop("http_port") == u.port  # the test's own port, set over the default
        assert saved == {"wifi": {"ssid": "home", "password": "correct horse"}, "token": TOKEN}
        await u.until(lambda: machine.state["resets"] == 1, what="restart")
        # from now on the form needs the token
        st, r = await u.json("POST", "/api/setup", {"ssid": "x", "password": "", "token": ""})
        assert st == 401
        st, text, _ = await u.http("GET", "/api/config")
        assert "correct horse" not in text and TOKEN not in text
        assert "correct horse" not in "\n".join(u.logs) and TOKEN not in "\n".join(u.logs)
        u.stop()

    run(go())


def _raw(port, head, body=b""):
    # one HTTP/1.1 request written as a browser would send it; (status, body text)
    import socket

    with socket.create_connection(("127.0.0.1", port), 5) as c:
        c.sendall(head.replace(b"\n", b"\r\n") + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2].decode()


ATTACK = b'{"ssid": "evil-net", "password": "evil-pass", "token": "attacker-token"}'


def test_first_set_up_cannot_be_done_by_another_site(device):
    # A board deployed with Wi-Fi but no token takes the set-up form without a token.
    # A page on any other site may make the owner's browser post to it: as an HTML
    # form (urlencoded, multipart, text/plain: the only types a form can send without
    # CORS) or, after DNS rebinding, as JSON under the attacker's host name. Each is
    # refused and nothing is saved; the real form (JSON to the board's address) works.
    write_config(device, {"wifi": HOME})

    async def go():
        u = await Unit().start()
        await u.until(u.link_up, what="link up")
        origin = b"Origin: http://attacker.example\nReferer: http://attacker.example/x.html\n"
        for ctype in (
            b"application/x-www-form-urlencoded",
            b"text/plain",
            b"multipart/form-data; boundary=x",
            b"text/plain;charset=UTF-8",
            None,
        ):  # None: fetch() of a Blob, no type at all
            head = b"POST /api/setup HTTP/1.1\nHost: 127.0.0.1:%d\n" % u.port + origin
            if ctype is not None:
                head += b"Content-Type: " + ctype + b"\n"
            st, text = await asyncio.to_thread(_raw, u.port, head, ATTACK)
            assert st == 415, (ctype, st, text)
        # DNS rebinding: the attacker's name now points at the board, JSON is same-origin
        for host in (b"attacker.example", b"ucm.attacker.example:80", b"192.168.1.50.nip.io"):
            st, text = await asyncio.to_thread(
                _raw, u.port, b"POST /api/setup HTTP/1.1\nHost: " + host + b"\nContent-Type: application/json\n", ATTACK
            )
            assert st == 403 and "http_hosts" in text, (host, st, text)
            st, text = await asyncio.to_thread(_raw, u.port, b"GET /api/status HTTP/1.1\nHost: " + host + b"\n")
            assert st == 403, host  # and it cannot read anything either
        assert not u.system.config.data["token"] and machine.state["resets"] == 0
        assert "evil" not in open("ucm.json").read()
        st, text = await asyncio.to_thread(_raw, u.port, b"GET /api/status HTTP/1.1\nHost: ucm.local\n")
        assert st == 200  # the board's own names work
        st, text = await asyncio.to_thread(
            _raw, u.port, b"POST /api/setup HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n", ATTACK
        )
        assert st == 200 and u.system.config.data["token"] == "attacker-token"  # the owner's own form
        u.stop()

    run(go())


def test_http_hosts_adds_names(device):
    write_config(
        device, {"token": TOKEN, "wifi": dict(HOME, hostname="heater"), "http_hosts": "heater.fritz.box, ucm.lan"}
    )

    async def go():
        u = await Unit().start()
        for host, status in (
            (b"heater", 200),
            (b"HEATER.local:80", 200),
            (b"heater.fritz.box", 200),
            (b"ucm.lan:8080", 200),
            (b"ucm", 403),
            (b"ucm.local", 403),
            (b"fritz.box", 403),
            (b"[::1]:80", 200),
            (b"10.0.0.7", 200),
        ):
            st, _ = await asyncio.to_thread(_raw, u.port, b"GET /api/status HTTP/1.1\nHost: " + host + b"\n")
            assert st == status, host
        u.stop()

    run(go())


def test_settings_apply_live_and_a_removed_one_gets_its_default_back(device):
    write_config(device, {"token": TOKEN, "wifi": HOME, "settings": {"t_ma_ms": 150, "heartbeat_ms": 30000}})

    async def go():
        u = await Unit().start()
        s = u.system.ucm.engine.s
        assert s.t_ma_ms == 150 and s.heartbeat_ms == 30000
        st, r = await u.json("PUT", "/api/config", {"settings": {"heartbeat_ms": 30000}}, TOKEN)
        assert st == 200 and r["restart_needed"] == []
        assert s.t_ma_ms == 50 and s.heartbeat_ms == 30000  # t_ma_ms left the config: back to 50 now
        st, r = await u.json("PUT", "/api/config", {"settings": {"t_ma_ms": 0}}, TOKEN)
        assert st == 400 and r["field"] == "settings.t_ma_ms" and r["error"] == "must be 40..200"
        # a buffer size applies after a restart, and the engine keeps its own until then
        st, r = await u.json("PUT", "/api/config", {"settings": {"log_size": 16, "t_ar_ms": 200}}, TOKEN)
        assert st == 200 and r["restart_needed"] == ["settings.log_size"]
        assert s.log_size == 64 and s.t_ar_ms == 200 and s.heartbeat_ms == Settings.heartbeat_ms
        st, r = await u.json("PUT", "/api/config", {"settings": None}, TOKEN)
        assert st == 200 and s.t_ar_ms == Settings.t_ar_ms
        assert "settings" not in json.loads(open("ucm.json").read())
        u.stop()

    run(go())


def test_a_saved_config_that_would_brick_the_board_boots_with_those_keys_at_default(device):
    # written by hand or by an older firmware: the board still starts, the good keys
    # apply, each bad one takes its default and /api/status names it
    write_config(
        device,
        {
            "token": TOKEN,
            "wifi": HOME,
            "watchdog_ms": 1,
            "http_port": 70000,
            "settings": {"log_size": 0, "baud": 0, "t_ma_ms": 0, "heartbeat_ms": 30000},
            "pins": {"uart": 99},
        },
    )

    async def go():
        u = await Unit().start()
        await u.until(u.link_up, what="link up")
        st, s = await u.json("GET", "/api/status")
        c = s["firmware"]["config"]
        assert c["source"] == "file"
        for key in ("watchdog_ms", "http_port", "settings.log_size", "settings.baud", "settings.t_ma_ms", "pins.uart"):
            assert key in c["error"], (key, c["error"])
        assert machine.wdts and machine.wdts[-1].timeout == 8000
        e = u.system.ucm.engine.s
        assert e.heartbeat_ms == 30000 and e.log_size == 64 and e.t_ma_ms == 50
        assert any("those keys use their defaults" in line for line in u.logs)
        u.stop()

    run(go())


def test_corrupt_config_falls_back_to_defaults(device):
    (device / "ucm.json").write_text('{"wifi": {"ssid": "ho')

    async def go():
        u = await Unit().start()
        await u.until(u.link_up, what="link up")
        st, s = await u.json("GET", "/api/status")
        c = s["firmware"]["config"]
        assert c["source"] == "defaults" and "not valid JSON" in c["error"]
        st, r = await u.json("GET", "/api/config")
        assert r["config"]["wifi"]["ssid"] == "" and r["state"]["source"] == "defaults"
        u.stop()

    run(go())


def test_wrong_types_in_the_file_fall_back_too(device):
    write_config(device, {"http_port": "eighty", "wifi": HOME})
    c = config_mod.Config("ucm.json").load()
    assert c.source == "file" and "http_port: must be an integer" in c.error
    assert c.data["http_port"] == 80 and c.data["wifi"]["ssid"] == HOME["ssid"]


def test_config_put_applies_saves_and_hides_secrets(device):
    write_config(device, {"token": TOKEN, "wifi": HOME})

    async def go():
        u = await Unit().start()
        await u.until(u.link_up, what="link up")
        st, r = await u.json("PUT", "/api/config", {"settings": {"heartbeat_ms": 30000}})
        assert st == 401
        st, r = await u.json("PUT", "/api/config", {"settings": {"heartbeat_ms": 30000}}, TOKEN)
        assert st == 200 and r["changed"] == ["settings"] and r["restart_needed"] == [] and r["saved"]
        assert u.system.ucm.engine.s.heartbeat_ms == 30000
        st, r = await u.json("PUT", "/api/config", {"wifi": {"ssid": "other"}, "transceiver": "auto"}, TOKEN)
        assert st == 200 and sorted(r["restart_needed"]) == ["transceiver", "wifi"]
        assert r["config"]["wifi"] == {"ssid": "other", "hostname": "ucm", "password_set": True}
        assert "password" not in json.dumps(r).replace("password_set", "")
        on_flash = json.loads(open("ucm.json").read())
        assert on_flash["settings"] == {"heartbeat_ms": 30000} and on_flash["wifi"]["ssid"] == "other"
        assert on_flash["wifi"]["password"] == HOME["password"] and on_flash["transceiver"] == "auto"
        for body, field in (
            ({"settings": {"heartbeat_ms": "x"}}, "settings.heartbeat_ms"),
            ({"nope": 1}, "nope"),
            ({"transceiver": "rs232"}, "transceiver"),
            ({"ap": {"password": "short"}}, "ap.password"),
            ({"pins": {"cs": 3}}, "pins.cs"),
            ({"http_port": -1}, "http_port"),
        ):
            st, r = await u.json("PUT", "/api/config", body, TOKEN)
            assert st == 400 and r["field"] == field, (body, r)
        assert json.loads(open("ucm.json").read()) == on_flash  # nothing saved by a bad request
        # a new token applies at once
        st, r = await u.json("PUT", "/api/config", {"token": "another-token-99"}, TOKEN)
        assert st == 200
        st, r = await u.json("POST", "/api/dr/end", {}, TOKEN)
        assert st == 401
        st, r = await u.json("POST", "/api/dr/end", {}, "another-token-99")
        assert st == 200
        u.stop()

    run(go())


def test_save_cut_short_while_writing_keeps_the_old_file(device, monkeypatch):
    write_config(device, {"wifi": HOME})
    c = config_mod.Config("ucm.json").load()
    c.update({"wifi": {"ssid": "new-net"}})
    real_open = open

    class Torn:
        # writes half of what it is given, then the power goes
        def __init__(self, f):
            self.f = f

        def write(self, s):
            self.f.write(s[: len(s) // 2])
            self.f.close()
            raise OSError(5, "power lost")

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    def torn_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        return Torn(f) if "w" in mode else f

    with monkeypatch.context() as m:
        m.setattr(config_mod, "open", torn_open, raising=False)
        m.setattr(config_mod.json, "dump", lambda obj, f: f.write(json.dumps(obj)))
        with pytest.raises(OSError):
            c.save()
    assert (device / "ucm.json.tmp").exists()  # the torn copy
    again = config_mod.Config("ucm.json").load()
    assert again.source == "file" and again.data["wifi"]["ssid"] == "home"


def test_save_cut_before_or_during_the_rename(device, monkeypatch):
    write_config(device, {"wifi": HOME})
    c = config_mod.Config("ucm.json").load()
    c.update({"wifi": {"ssid": "new-net"}})
    # power lost after the temporary file, before the rename: the old file is used
    with monkeypatch.context() as m:
        m.setattr(config_mod.os, "rename", lambda a, b: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            c.save()
    assert config_mod.Config("ucm.json").load().data["wifi"]["ssid"] == "home"
    # on a filesystem whose rename does not replace, the old file is removed first; a
    # cut there leaves only the complete temporary file, which load() takes
    (device / "ucm.json").unlink()
    again = config_mod.Config("ucm.json").load()
    assert again.source == "file" and again.data["wifi"]["ssid"] == "new-net"
    # and a normal save replaces the file whole
    c.update({"wifi": {"ssid": "third"}})
    c.save()
    assert json.loads((device / "ucm.json").read_text())["wifi"]["ssid"] == "third"
    assert not (device / "ucm.json.tmp").exists()


def test_wifi_drop_sends_lost_then_found(device):
    write_config(device, {"token": TOKEN, "wifi": HOME})

    async def go():
        u = await Unit().start()
        await u.until(lambda: u.link_up() and u.sim.comm_status == 1, what="link up and comm found")
        assert ntptime.calls == ["pool.ntp.org"] and u.board.unix_time() is not None
        st, s = await u.json("GET", "/api/status")
        assert s["firmware"]["wifi"]["online"] and s["firmware"]["wifi"]["ip"] == "192.168.1.50"
        assert s["upstream"] is True
        seen = len(u.sim.received)
        network.air["up"] = False
        await u.until(lambda: u.sim.comm_status == 0, what="comm status lost")
        assert any(f[4:6] == b"\x0e\x00" for _, f in u.sim.received[seen:])
        assert u.system.wifi.drops == 1 and not u.system.ucm.engine.upstream
        network.air["up"] = True
        await u.until(lambda: u.sim.comm_status == 1, what="comm status found")
        assert u.system.wifi.online and not network.WLAN(network.AP_IF).active()
        u.stop()

    run(go())


def test_cannot_join_falls_back_to_the_access_point(device):
    write_config(device, {"token": TOKEN, "wifi": {"ssid": "home", "password": "wrong"}, "ap": {"after_s": 0}})

    async def go():
        u = await Unit().start()
        await u.until(lambda: network.WLAN(network.AP_IF).active(), what="access point")
        assert u.system.wifi.attempts >= 1 and not u.system.wifi.online
        assert any("cannot join home" in line for line in u.logs)
        st, text, _ = await u.http("GET", "/setup")
        assert st == 200 and "Wi-Fi network" in text
        u.stop()

    run(go())


def test_watchdog_fed_only_while_tasks_progress(device, monkeypatch):
    write_config(device, {"token": TOKEN, "wifi": HOME})
    import ucm.runner as runner_mod

    real_sleep = runner_mod.sleep_ms
    hang = {"on": False}

    async def sleep_ms(ms):  # the engine loop's pause; hangs while hang["on"]
        while hang["on"]:
            await asyncio.sleep(0.01)
        await real_sleep(ms)

    monkeypatch.setattr(runner_mod, "sleep_ms", sleep_ms)

    async def go():
        u = await Unit().start()
        await u.until(lambda: machine.wdts and machine.wdts[0].feeds >= 3, what="feeds")
        wdt_ = machine.wdts[0]
        hang["on"] = True
        await u.until(lambda: u.system.sup.stalled == ["engine"], what="stall detected")
        fed = wdt_.feeds
        await asyncio.sleep(1.0)  # the restarted engine task hangs too
        assert wdt_.feeds == fed, "fed while the engine made no progress"
        t = u.system.sup.status()["engine"]
        assert t["restarts"] == 1 and t["last_error"].startswith("no progress") and t["stalled"]
        assert u.system.ucm.polls == u.system.sup.tasks["engine"]["seen"]
        hang["on"] = False  # the restarted task moves again
        await u.until(lambda: wdt_.feeds > fed + 2, what="feeding again")
        assert u.system.sup.stalled == [] and u.system.sup.status()["engine"]["restarts"] == 1
        u.stop()

    run(go())


def test_a_failing_task_is_restarted_and_counted(device):
    write_config(device, {"token": TOKEN, "wifi": HOME})

    async def go():
        u = await Unit().start()
        await u.until(u.link_up, what="link up")
        u.uart.fail_reads = 1
        u.uart.inbox += b"\x06"  # wake the reader
        await u.until(lambda: u.system.sup.status()["rs485"]["restarts"] == 1, what="restart")
        t = u.system.sup.status()["rs485"]
        assert t["last_error"].startswith("OSError")
        assert any("task rs485 ended (OSError" in line for line in u.logs)
        st, r = await u.json("POST", "/api/dr/shed", {"duration_s": 300}, TOKEN)
        assert st == 200 and r["result"] == "ack"  # the restarted reader carries on
        st, text, h = await u.http("GET", "/metrics")
        assert st == 200 and h["Content-Type"].startswith("text/plain; version=0.0.4")
        assert 'ucm_task_restarts_total{task="rs485"} 1' in text and "ucm_link_up 1" in text
        assert "ucm_wifi_online 1" in text and "ucm_event_active 1" in text
        u.stop()

    run(go())


def test_stopped_at_the_repl_keeps_the_watchdog_fed(device, monkeypatch):
    # main() on the device: the config from flash, then Ctrl-C at the REPL (mpremote,
    # make repl). The watchdog cannot be stopped, so a timer feeds it from then on.
    write_config(device, {"token": TOKEN, "watchdog_ms": 60000})
    board = devboard.board("pico_w")
    fw = devboard.firmware_main()
    seen = {}

    async def start(b, conf, *a, **k):
        seen["config"] = conf
        b.wdt = b.watchdog(8000)
        raise KeyboardInterrupt

    monkeypatch.setattr(fw, "start", start)
    fw.main(board)
    assert seen["config"].source == "file" and seen["config"].data["token"] == TOKEN
    wdt_ = machine.wdts[-1]
    assert len(machine.timers) == 1 and machine.timers[0].period == 1000
    machine.timers[0].callback(machine.timers[0])
    assert wdt_.feeds == 1
