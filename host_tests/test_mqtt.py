# The MQTT client (lib/ucm/mqtt.py) against a real broker: Debian's mosquitto, started
# by the tests on a free loopback port (with and without a password file), and paho-mqtt
# as the independent client on the other side. The client runs in
# host_tests/mqtt_scenario.py under CPython and under MicroPython's unix ports (the venv's
# 64-bit one and, where MICROPYTHON32 names it, the 32-bit one): QoS 0 and 1 both ways,
# the retained last will when the process is killed, keepalive over an idle connection,
# reconnect and resubscribe after a broker restart, a refused password, and an event
# loop that is never blocked. Without mosquitto the tests are skipped (a failure under
# CI=true, where .ci/run installs it).

import getpass
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from rig import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO = os.path.join(ROOT, "host_tests", "mqtt_scenario.py")
LIB = os.path.join(ROOT, "lib")
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


def _unavailable(reason):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


class Broker:
    """A mosquitto process on 127.0.0.1:port; users: {name: password} (else anonymous)."""

    def __init__(self, tmp, users=None):
        if not MOSQUITTO:
            _unavailable("mosquitto not found (Debian package mosquitto); the MQTT tests need it")
        self.port = free_port()
        self.dir = tmp
        # as this user (as root, mosquitto would switch to its own and not read our files)
        conf = ["listener %d 127.0.0.1" % self.port, "persistence false", "user " + getpass.getuser()]
        if users:
            pw = os.path.join(tmp, "passwd")
            for i, (u, p) in enumerate(sorted(users.items())):
                subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if i == 0 else []) + [pw, u, p], check=True)
            conf += ["allow_anonymous false", "password_file " + pw]
        else:
            conf.append("allow_anonymous true")
        self.conf = os.path.join(tmp, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "a")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf, "-v"], stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        import socket

        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                assert self.proc.poll() is None, open(os.path.join(self.dir, "mosquitto.log")).read()
                assert time.monotonic() < end, "mosquitto did not listen"
                time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


class Watcher:
    """paho-mqtt subscribed to scn/#: every message as (topic, payload, retain)."""

    n = 0

    def __init__(self, port, user=None, password=None):
        import paho.mqtt.client as mqtt

        self.q = queue.Queue()
        Watcher.n += 1  # a client id of its own: a second client with one id ends the first
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher-%d-%d" % (os.getpid(), Watcher.n))
        if user:
            self.c.username_pw_set(user, password)
        self.c.on_message = lambda c, u, m: self.q.put((m.topic, m.payload.decode(), bool(m.retain)))
        self.c.connect("127.0.0.1", port, 30)
        self.c.subscribe("scn/#", 1)
        self.c.loop_start()

    def wait(self, topic, payload, timeout=15):
        end = time.monotonic() + timeout
        seen = []
        while time.monotonic() < end:
            try:
                m = self.q.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(m)
            if m[0] == topic and m[1] == payload:
                return m
        raise AssertionError("%s %r never came; got %s" % (topic, payload, seen))

    def send(self, topic, payload, qos=1):
        self.c.publish(topic, payload, qos=qos).wait_for_publish(10)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def _runtimes():
    out = [("cpython", [sys.executable])]
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")
    out.append(("unix-port", [mp] if os.access(mp, os.X_OK) else None))
    m32 = os.environ.get("MICROPYTHON32")
    out.append(("unix-port-32bit", [m32] if m32 and os.access(m32, os.X_OK) else None))
    return out


RUNTIMES = _runtimes()


class Scenario:
    def __init__(self, cmd, port, cid, tmp, keepalive=60, user=None, password=None):
        env = dict(os.environ, PYTHONPATH=LIB, MICROPYPATH=LIB + ":.frozen")
        args = [SCENARIO, "127.0.0.1", str(port), cid, str(keepalive)]
        if user:
            args += [user, password]
        self.path = os.path.join(tmp, "scenario-%s.log" % cid)
        self.logf = open(self.path, "w")
        self.proc = subprocess.Popen(cmd + args, env=env, stdout=self.logf, stderr=subprocess.STDOUT, cwd=ROOT)

    def text(self):
        with open(self.path) as f:
            return f.read()

    def wait(self, line, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            t = self.text()
            if line in t.splitlines():
                return t
            assert self.proc.poll() is None or line in t, "the scenario exited:\n" + t
            time.sleep(0.05)
        raise AssertionError("%r never printed:\n%s" % (line, self.text()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.logf.close()


def test_runtime_table_not_empty():
    assert len(RUNTIMES) == 3 and RUNTIMES[0][1]


@pytest.fixture
def broker(tmp_path):
    b = Broker(str(tmp_path))
    yield b
    b.stop()


def _runtime(name):
    cmd = dict(RUNTIMES)[name]
    if cmd is None:
        what = "the venv's MicroPython unix port" if name == "unix-port" else "MICROPYTHON32 (a 32-bit unix port)"
        _unavailable("%s is not available here" % what)
    return cmd


@pytest.mark.parametrize("runtime", [r for r, _ in RUNTIMES])
def test_publish_subscribe_will_and_keepalive(broker, tmp_path, runtime):
    cmd = _runtime(runtime)
    w = Watcher(broker.port)
    cid = "k-" + runtime
    s = Scenario(cmd, broker.port, cid, str(tmp_path), keepalive=2)
    try:
        s.wait("CONNECTED 1")
        assert w.wait("scn/%s/status" % cid, "online")
        # both ways, QoS 1 and 0 (the broker delivers the watcher's QoS 1 as QoS 1)
        w.send("scn/%s/in/echo1" % cid, "first")
        w.wait("scn/%s/out" % cid, "first")
        w.send("scn/%s/in/echo0" % cid, "second", qos=0)
        w.wait("scn/%s/out" % cid, "second")
        # idle for 3 keepalives: PINGREQ keeps it (the broker drops a silent client at 1.5)
        time.sleep(6.5)
        w.send("scn/%s/in/echo1" % cid, "after idle")
        w.wait("scn/%s/out" % cid, "after idle")
        t = s.text()
        assert "CONNECTED 2" not in t and "no answer from the broker" not in t, t
        assert "GOT scn/%s/in/echo1 first 0" % cid in t
        # killed: the broker publishes the retained will
        s.kill()
        assert w.wait("scn/%s/status" % cid, "offline")
    finally:
        s.kill()
        w.close()
    # retained: a new subscriber gets "offline"
    w2 = Watcher(broker.port)
    try:
        assert w2.wait("scn/%s/status" % cid, "offline") == ("scn/%s/status" % cid, "offline", True)
    finally:
        w2.close()
    log = open(os.path.join(str(tmp_path), "mosquitto.log")).read()
    assert "PINGREQ" in log and "k-%s" % runtime in log


@pytest.mark.parametrize("runtime", [r for r, _ in RUNTIMES])
def test_reconnects_and_resubscribes_after_a_broker_restart(broker, tmp_path, runtime):
    cmd = _runtime(runtime)
    cid = "r-" + runtime
    s = Scenario(cmd, broker.port, cid, str(tmp_path), keepalive=5)
    try:
        s.wait("CONNECTED 1")
        broker.stop()
        time.sleep(2.5)  # down for a while: the client retries with a back-off
        broker.start()
        s.wait("CONNECTED 2", timeout=30)
        w = Watcher(broker.port)
        try:
            w.send("scn/%s/in/echo1" % cid, "back")  # subscribed again after the restart
            w.wait("scn/%s/out" % cid, "back")
            w.send("scn/%s/in/stop" % cid, "stop")
            t = s.wait("BYE")
        finally:
            w.close()
        assert "ConnectionRefusedError" in t or "OSError" in t or "EOFError" in t or "IncompleteRead" in t, t
        worst = int(t.split("WORST ")[1].split()[0])
        assert worst < 1000, "the event loop stood still for %d ms" % worst  # never blocked
    finally:
        s.kill()
    assert s.proc.returncode == 0


def test_password_refused_then_accepted(tmp_path):
    b = Broker(str(tmp_path), users={"ucm": "right-password"})
    try:
        cmd = _runtime("unix-port") if dict(RUNTIMES)["unix-port"] else [sys.executable]
        bad = Scenario(cmd, b.port, "pw-bad", str(tmp_path), user="ucm", password="wrong")
        try:
            # mosquitto 2 answers a wrong password with code 5 (not authorized), others with 4
            why = re.compile(
                r"^LOG mqtt: 127\.0\.0\.1:%d: MqttError: refused: (bad user name or password|not authorized);"
                r" again in 1 s$" % b.port,
                re.M,
            )
            end = time.monotonic() + 20
            while not why.search(bad.text()):
                assert time.monotonic() < end and bad.proc.poll() is None, bad.text()
                time.sleep(0.05)
            time.sleep(3.5)  # it keeps trying with a back-off, and says so once
            t = bad.text()
            assert bad.proc.poll() is None and "CONNECTED" not in t
            assert len(re.findall(r"refused: ", t)) == 1, t
        finally:
            bad.kill()
        good = Scenario(cmd, b.port, "pw-good", str(tmp_path), user="ucm", password="right-password")
        w = Watcher(b.port, "ucm", "right-password")
        try:
            good.wait("CONNECTED 1")
            w.send("scn/pw-good/in/echo1", "authorized")
            w.wait("scn/pw-good/out", "authorized")
        finally:
            good.kill()
            w.close()
    finally:
        b.stop()


def test_packets_and_errors_in_process():
    # The wire format of the packets the client builds (MQTT 3.1.1 section 2.2.3: the
    # remaining length in 7-bit groups) and its refusal texts, without a broker.
    sys.path.insert(0, LIB)
    from ucm import mqtt

    assert mqtt.packet(mqtt.PINGREQ) == b"\xc0\x00"
    assert mqtt.packet(mqtt.PUBLISH, b"x" * 127)[:2] == b"\x30\x7f"
    assert mqtt.packet(mqtt.PUBLISH, b"x" * 128)[:3] == b"\x30\x80\x01"
    assert mqtt.packet(mqtt.PUBLISH, b"x" * 16384)[:4] == b"\x30\x80\x80\x01"
    assert mqtt._str("ab") == b"\x00\x02ab" and mqtt._str("é") == b"\x00\x02\xc3\xa9"
    assert len(mqtt.REFUSED) == 5 and mqtt.REFUSED[3] == "bad user name or password"
    import asyncio

    c = mqtt.Client("127.0.0.1", free_port(), timeout_s=1, log=lambda s: None)
    with pytest.raises(OSError):  # nobody listens: a clear OSError, no hang
        asyncio.run(c.connect())
    with pytest.raises(mqtt.MqttError, match="not connected"):
        asyncio.run(c.publish("t", b"x"))


def test_client_in_process_against_the_broker(broker):
    # The same client in this process (CPython asyncio): subscribe, QoS 1 to itself and
    # back, a retained message for a later subscriber, status(), a clean disconnect that
    # leaves no will.
    sys.path.insert(0, LIB)
    import asyncio

    from ucm import mqtt

    got = []

    async def scenario():
        will = ("scn/inproc/will", b"gone", True, 1)
        c = mqtt.Client("127.0.0.1", broker.port, "inproc", keepalive_s=5, will=will, log=got.append)
        c.on_message = lambda t, p, r: got.append((t, p, r))
        await c.connect()
        listener = asyncio.create_task(c.listen())
        await c.subscribe("scn/inproc/#", 1)
        await c.publish("scn/inproc/a", "one", qos=1)
        await c.publish("scn/inproc/b", b"two", retain=True)
        for _ in range(100):
            if len([m for m in got if type(m) is tuple]) >= 2:
                break
            await asyncio.sleep(0.02)
        st = c.status()
        await c.disconnect()
        listener.cancel()
        return st

    st = asyncio.run(scenario())
    assert ("scn/inproc/a", b"one", False) in got and ("scn/inproc/b", b"two", False) in got
    assert st["connected"] and st["connects"] == 1 and st["sent"] == 2 and st["received"] == 2
    w = Watcher(broker.port)
    try:
        assert w.wait("scn/inproc/b", "two") == ("scn/inproc/b", "two", True)  # retained
        time.sleep(0.5)
        assert not [m for m in list(w.q.queue) if m[0] == "scn/inproc/will"]  # a clean end: no will
    finally:
        w.close()
