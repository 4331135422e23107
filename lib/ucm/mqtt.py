# A small MQTT 3.1.1 client on asyncio streams, for MicroPython (>= 1.22) and CPython
# (>= 3.10): it never blocks the event loop (every wait is an await with a timeout),
# keeps the connection alive with PINGREQ, sends QoS 0 and 1 (a QoS 1 publish waits for
# its PUBACK and is sent once more, as a duplicate, when none comes), subscribes, answers
# the broker's QoS 1 messages with PUBACK, and has a last will. run() is the supervisor
# task: it connects, calls on_connect (where the caller subscribes and publishes its
# state, so both are done again after every reconnect), reads until the connection is
# lost, and connects again with a back-off (1 s doubling up to 60 s). No allocation per
# byte: a packet is read as its header and one body. Facts: the MQTT 3.1.1 standard
# (OASIS, 2014), sections 2 (fixed header, remaining length) and 3 (the packets).
#   c = Client("192.168.1.10", 1883, "ucm-1a2b", user="u", password="p",
#              will=("ucm/1a2b/availability", b"offline", True, 1))
#   c.on_message = lambda topic, payload, retained: ...
#   await c.run(on_connect)          # on_connect(c) is a coroutine function

import asyncio

from ucm.clock import sleep_ms, ticks_diff, ticks_ms

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0
# CONNACK return codes 1..5 (section 3.2.2.3)
REFUSED = (
    "unacceptable protocol version",
    "client identifier rejected",
    "server unavailable",
    "bad user name or password",
    "not authorized",
)
BACKOFF_MS = 1000
BACKOFF_MAX_MS = 60000


class MqttError(Exception):
    """A broker that refuses, answers wrongly or not in time."""


def _str(s):
    # a UTF-8 string (or bytes) with its 2-byte length (section 1.5.3)
    b = s.encode() if type(s) is str else bytes(s)
    return bytes((len(b) >> 8, len(b) & 0xFF)) + b


def packet(kind, body=b""):
    """A whole control packet: the fixed header (kind, remaining length) and body."""
    n = len(body)
    head = bytearray((kind,))
    while True:
        d = n & 0x7F
        n >>= 7
        head.append(d | 0x80 if n else d)
        if not n:
            return bytes(head) + body


class Client:
    """One broker connection at a time. on_message(topic, payload bytes, retained) is
    called for every message of a subscription; log(text) gets connection events."""

    def __init__(
        self,
        host,
        port=1883,
        client_id="ucm",
        user=None,
        password=None,
        keepalive_s=60,
        will=None,
        timeout_s=10,
        max_packet=4096,
        log=print,
    ):
        self.host = host
        self.port = port
        self.client_id = client_id
        self.user = user
        self.password = password
        self.keepalive_s = keepalive_s
        self.will = will  # (topic, payload, retain, qos) or None
        self.timeout_s = timeout_s
        self.max_packet = max_packet  # larger packets from the broker end the connection
        self.log = log
        self.on_message = None
        self.connected = False
        self.connects = 0  # successful connections
        self.last_error = None
        self.received = self.sent = 0  # PUBLISH packets
        self._r = self._w = None
        self._pid = 0
        self._waits = {}  # packet id -> [Event, the SUBACK return code or None]
        self._lock = asyncio.Lock()
        self._heard = self._spoke = 0  # ticks of the last packet in and out

    # --- the connection
    async def connect(self):
        """Open the connection and send CONNECT; MqttError when refused, OSError when
        the broker cannot be reached."""
        self.close()
        r, w = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout_s)
        self._r, self._w = r, w
        flags = 0x02  # clean session
        tail = _str(self.client_id)
        if self.will:
            topic, payload, retain, qos = self.will
            flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
            tail += _str(topic) + _str(payload)
        if self.user is not None:
            flags |= 0x80
            tail += _str(self.user)
            if self.password is not None:
                flags |= 0x40
                tail += _str(self.password)
        ka = self.keepalive_s
        await self._send(packet(CONNECT, _str("MQTT") + bytes((4, flags, ka >> 8, ka & 0xFF)) + tail))
        try:
            kind, body = await asyncio.wait_for(self._read(), self.timeout_s)
        except asyncio.TimeoutError:
            self.close()
            raise MqttError("no answer to CONNECT")
        if kind != CONNACK or len(body) != 2:
            self.close()
            raise MqttError("the broker did not answer CONNACK")
        rc = body[1]
        if rc:
            self.close()
            raise MqttError("refused: %s" % (REFUSED[rc - 1] if rc <= len(REFUSED) else "code %d" % rc))
        self.connected = True
        self.connects += 1
        self._heard = ticks_ms()

    def close(self):
        """Drop the connection (no DISCONNECT: the broker sends the will)."""
        self.connected = False
        w = self._w
        self._r = self._w = None
        if w is not None:
            try:
                w.close()
            except OSError:
                pass
        for pid in self._waits:
            self._waits[pid][0].set()  # a waiting publish or subscribe gives up now

    async def disconnect(self):
        """A clean end: DISCONNECT (the broker drops the will), then close."""
        if self.connected:
            try:
                await self._send(packet(DISCONNECT))
            except OSError:
                pass
        self.close()

    async def _send(self, data):
        if self._w is None:
            raise MqttError("not connected")
        async with self._lock:
            self._w.write(data)
            await asyncio.wait_for(self._w.drain(), self.timeout_s)
        self._spoke = ticks_ms()

    async def _read(self):
        r = self._r
        kind = (await r.readexactly(1))[0]
        n = shift = 0
        while True:
            d = (await r.readexactly(1))[0]
            n |= (d & 0x7F) << shift
            if d < 0x80:
                break
            shift += 7
            if shift > 21:
                raise MqttError("bad remaining length")
        if n > self.max_packet:
            raise MqttError("a %d-byte packet from the broker (at most %d)" % (n, self.max_packet))
        body = await r.readexactly(n) if n else b""
        self._heard = ticks_ms()
        return kind, body

    # --- publish and subscribe
    def _next_pid(self):
        self._pid = self._pid % 0xFFFF + 1
        return self._pid

    async def _acked(self, pid, data, dup=False):
        # send data and wait for the PUBACK/SUBACK of pid; once more (DUP) if none comes
        w = self._waits[pid] = [asyncio.Event(), None]
        try:
            for attempt in range(2):
                if attempt and dup:
                    data = bytes((data[0] | 0x08,)) + data[1:]
                await self._send(data)
                try:
                    await asyncio.wait_for(w[0].wait(), self.timeout_s)
                except asyncio.TimeoutError:
                    continue
                if not self.connected:
                    break
                return w[1]
        finally:
            self._waits.pop(pid, None)
        raise MqttError("no acknowledgement from the broker")

    async def publish(self, topic, payload, retain=False, qos=0):
        """Send payload (bytes or str) to topic; with qos=1, return once the broker has
        acknowledged it. MqttError when not connected or not acknowledged."""
        if type(payload) is str:
            payload = payload.encode()
        head = _str(topic)
        kind = PUBLISH | (0x02 if qos else 0) | (0x01 if retain else 0)
        self.sent += 1
        if not qos:
            await self._send(packet(kind, head + payload))
            return
        pid = self._next_pid()
        await self._acked(pid, packet(kind, head + bytes((pid >> 8, pid & 0xFF)) + payload), dup=True)

    async def subscribe(self, topic, qos=0):
        """Subscribe to a topic filter; MqttError when the broker refuses it."""
        pid = self._next_pid()
        rc = await self._acked(pid, packet(SUBSCRIBE, bytes((pid >> 8, pid & 0xFF)) + _str(topic) + bytes((qos,))))
        if rc is None or rc > 2:
            raise MqttError("subscription to %s refused" % topic)

    # --- receiving and keeping alive
    async def listen(self):
        """Read packets until the connection ends (then raises: EOFError, OSError or
        MqttError)."""
        while True:
            kind, body = await self._read()
            t = kind & 0xF0
            if t == PUBLISH:
                await self._message(kind, body)
            elif t == PUBACK or t == SUBACK:
                w = self._waits.get(body[0] << 8 | body[1]) if len(body) >= 2 else None
                if w:
                    w[1] = body[2] if len(body) > 2 else 0
                    w[0].set()
            # PINGRESP: _read has noted the time; other packets are not expected

    async def _message(self, kind, body):
        n = body[0] << 8 | body[1]
        topic = body[2 : 2 + n].decode()
        pos = 2 + n
        if kind & 0x06:  # QoS 1 (or 2, answered as 1: this client asks for at most 1)
            pid = body[pos] << 8 | body[pos + 1]
            pos += 2
            await self._send(packet(PUBACK, bytes((pid >> 8, pid & 0xFF))))
        self.received += 1
        if self.on_message:
            try:
                self.on_message(topic, body[pos:], bool(kind & 0x01))
            except Exception as e:  # a handler's bug must not drop the connection
                self.log("mqtt: message on %s: %s: %s" % (topic, type(e).__name__, e))

    async def _keepalive(self):
        # PINGREQ when nothing was sent for half the keepalive; the connection is lost
        # when nothing was heard for 1.5 keepalives (section 3.1.2.10)
        ka = self.keepalive_s * 1000
        while self.connected:
            await sleep_ms(min(1000, ka // 4))
            now = ticks_ms()
            if ticks_diff(now, self._heard) > ka * 3 // 2:
                self.log("mqtt: no answer from the broker for %d s" % (ka * 3 // 2000))
                self.close()
                return
            if ticks_diff(now, self._spoke) >= ka // 2:
                try:
                    await self._send(packet(PINGREQ))
                except (OSError, MqttError):
                    self.close()
                    return

    async def run(self, on_connect=None):
        """The task: connect, on_connect(self), listen; after any failure connect again
        with a back-off. Never returns (cancel it to stop)."""
        pause = BACKOFF_MS
        while True:
            ping = listener = None
            try:
                await self.connect()
                self.log("mqtt: connected to %s:%d" % (self.host, self.port))
                ping = asyncio.create_task(self._keepalive())
                listener = asyncio.create_task(self.listen())
                if on_connect:
                    await on_connect(self)
                pause = BACKOFF_MS
                await listener
            except asyncio.CancelledError:
                self.close()
                for t in (ping, listener):
                    if t:
                        t.cancel()
                raise
            except Exception as e:  # OSError, EOFError, MqttError, a timeout: reconnect
                why = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
                if why != self.last_error or self.connected:
                    self.log("mqtt: %s:%d: %s; again in %d s" % (self.host, self.port, why, pause // 1000))
                self.last_error = why
            self.close()
            for t in (ping, listener):
                if t:
                    t.cancel()
            await sleep_ms(pause)
            pause = min(pause * 2, BACKOFF_MAX_MS)

    def status(self):
        return {
            "connected": self.connected,
            "broker": "%s:%d" % (self.host, self.port),
            "connects": self.connects,
            "last_error": self.last_error,
            "received": self.received,
            "sent": self.sent,
        }
