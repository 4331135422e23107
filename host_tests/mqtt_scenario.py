# The MQTT client (lib/ucm/mqtt.py) in a small program that runs the same under CPython
# and MicroPython's unix port (host_tests/test_mqtt.py starts it and a real mosquitto):
#   <python> host_tests/mqtt_scenario.py HOST PORT CLIENT_ID [KEEPALIVE_S [USER PASSWORD]]
# with lib/ on the module path. Topics under scn/CLIENT_ID: a will "offline" (retained,
# QoS 1) on status; on every connect it subscribes to in/# and publishes "online"
# (retained, QoS 1) on status; a message on in/echo1 comes back on out with QoS 1, on
# in/echo0 with QoS 0; "stop" on in/stop ends it with a clean DISCONNECT. A ticker task
# records the longest gap between its 50 ms ticks: the loop is never blocked.
# It prints one line per event: CONNECTED n, GOT topic payload retained, SENT payload,
# LOG text, WORST ms, and BYE.

import sys

import asyncio

from ucm.clock import sleep_ms, ticks_diff, ticks_ms
from ucm.mqtt import Client


def out(*words):
    print(" ".join(str(w) for w in words))
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


async def main(argv):
    host, port, cid = argv[1], int(argv[2]), argv[3]
    ka = int(argv[4]) if len(argv) > 4 else 60
    user = argv[5] if len(argv) > 5 else None
    password = argv[6] if len(argv) > 6 else None
    base = "scn/" + cid
    pending = []
    stop = asyncio.Event()
    worst = [0]

    def log(text):
        out("LOG", text)

    c = Client(host, port, cid, user, password, keepalive_s=ka, will=(base + "/status", b"offline", True, 1), log=log)

    def on_message(topic, payload, retained):
        out("GOT", topic, payload.decode(), int(retained))
        if topic == base + "/in/stop":
            stop.set()
        elif topic.startswith(base + "/in/echo"):
            pending.append((payload, int(topic[-1])))

    async def on_connect(client):
        await client.subscribe(base + "/in/#", 1)
        await client.publish(base + "/status", "online", retain=True, qos=1)
        out("CONNECTED", client.connects)

    async def echo():
        while True:
            while pending and c.connected:
                payload, qos = pending.pop(0)
                try:
                    await c.publish(base + "/out", payload, qos=qos)
                    out("SENT", payload.decode())
                except Exception as e:
                    out("LOG", "publish failed: %s" % e)
            await sleep_ms(20)

    async def ticker():
        last = ticks_ms()
        while True:
            await sleep_ms(50)
            now = ticks_ms()
            worst[0] = max(worst[0], ticks_diff(now, last))
            last = now

    c.on_message = on_message
    tasks = [asyncio.create_task(t) for t in (c.run(on_connect), echo(), ticker())]
    await stop.wait()
    await c.disconnect()
    for t in tasks:
        t.cancel()
    out("WORST", worst[0])
    out("BYE")


asyncio.run(main(sys.argv))
