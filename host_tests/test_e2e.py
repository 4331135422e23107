# End to end, as `make sim` runs it: the firmware (host board) in its own process on one
# end of a real pseudo-terminal, the simulated water heater on the other end (in a thread
# here, so the tests can inject faults), and real HTTP on 127.0.0.1.

import json
import os
import socket

import pytest
from rig import Rig
from checks import rows

TOKEN = "e2e-token-0123456789"


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    log = os.path.join(str(tmp_path_factory.mktemp("e2e")), "firmware.log")
    r = Rig(log, TOKEN, settings=["startup_retry_ms=2000", "heartbeat_ms=20000"])
    yield r
    r.close()


def test_startup_negotiation(rig):
    st = rig.wait_up()
    assert st["link"]["peer_types"] == {"basic_dr": True, "intermediate_dr": True, "data_link": True}
    assert st["link"]["peer_max_payload"] == 64
    got = [f.hex() for _, f in rig.do(lambda: list(rig.sim.received))]
    for x in ("080100007ecd", "080200007ad0", "0803000076d3", "080300021800ba75", "080100020e01e258"):
        assert x in got, x
    code, info = rig.api("GET", "/api/sgd/info")
    assert code == 200 and "water_heater_heat_pump" in json.dumps(info)
    code, log = rig.api("GET", "/api/log?n=200")
    assert code == 200 and any(e["hex"] == "080100007ecd" and e["dir"] == "tx" for e in log["frames"])


@pytest.mark.parametrize(
    "kind,body,state",
    [
        ("shed", {"duration_s": 600}, ("running_curtailed", "idle_curtailed")),
        ("load_up", {"duration_s": 1800}, ("running_heightened", "idle_heightened")),
        ("critical_peak", {"duration_s": 3600}, ("running_curtailed", "idle_curtailed")),
        ("grid_emergency", {}, ("running_curtailed", "idle_curtailed")),
    ],
)
def test_dr_command_and_end(rig, kind, body, state):
    rig.wait_up()
    code, r = rig.api("POST", "/api/dr/" + kind, body)
    assert code == 200, r
    assert r["result"] == "ack" and r["request"] == kind
    if body:
        assert r["duration_code"] > 0 and r["encoded_s"] <= body["duration_s"]
    else:
        assert r["duration_code"] == 0 and r["encoded_s"] is None
    assert rig.do(rig.sim.state_name) in state
    st = rig.wait(lambda: (lambda s: s["sgd"]["op_state"]["name"] in state and s)(rig.status()), what="op state")
    assert st["event"]["kind"] == kind
    code, r = rig.api("POST", "/api/dr/end", {})
    assert code == 200 and r["result"] == "ack"
    assert rig.do(rig.sim.state_name) in ("running_normal", "idle_normal")
    st = rig.wait(
        lambda: (lambda s: s["sgd"]["op_state"]["name"].endswith("_normal") and s)(rig.status()), what="normal"
    )
    assert st["event"] is None


def test_other_commands(rig):
    rig.wait_up()
    for path, body, result in (
        ("/api/dr/power_level", {"percent": 50, "direction": "absorb"}, "ack"),
        ("/api/dr/price", {"relative": 2.0}, "ack"),
        ("/api/dr/grid_guidance", {"guidance": "good"}, "ack"),
        ("/api/dr/advanced_load_up", {"duration_min": 60, "value": 5, "units": "100Wh"}, "reply"),
    ):
        code, r = rig.api("POST", path, body)
        assert code == 200 and r["result"] == result, (path, r)
    code, r = rig.api("PUT", "/api/sgd/setpoint", {"setpoint": 130, "units": "F"})
    assert code == 200, r
    code, r = rig.api("GET", "/api/sgd/setpoint")
    assert code == 200 and "130" in json.dumps(r)
    code, r = rig.api("GET", "/api/sgd/energy?refresh=1")
    assert code == 200 and "total_storage_capacity" in json.dumps(r)


def test_override_app_nak_is_409(rig):
    rig.wait_up()
    rig.do(rig.sim.set_override, True)
    rig.wait(lambda: rig.status()["sgd"]["override"] is True, what="override seen")
    code, r = rig.api("POST", "/api/dr/shed", {"duration_s": 600})
    assert code == 409 and r["reason"] == "customer_override", r
    assert rig.status()["last_app_nak"]["reason"] == "customer_override"
    rig.do(rig.sim.set_override, False)
    rig.wait(lambda: rig.status()["sgd"]["override"] is False, what="override off")
    assert rig.api("POST", "/api/dr/end", {})[0] == 200


def test_silent_sgd_504_then_recovery(rig):
    rig.wait_up()
    rig.do(rig.sim.silent, None)
    code, r = rig.api("POST", "/api/dr/end", {})
    assert code == 504 and r["result"] == "no_ack" and r["attempts"] == 3, r
    rig.do(rig.sim.silent, 0)
    rig.wait_up()
    code, r = rig.api("POST", "/api/dr/end", {})
    assert code == 200, r


def test_corrupted_frames_nak_and_retry(rig):
    rig.wait_up()
    before = rig.status()["counters"]
    rig.do(rig.sim.corrupt, 1)  # the App ACK goes out damaged: NAK 03, the SGD sends it again
    code, r = rig.api("POST", "/api/dr/load_up", {"duration_s": 600})
    assert code == 200 and r["result"] == "ack", r
    c = rig.status()["counters"]
    assert c["checksum_errors"] == before["checksum_errors"] + 1
    assert c["naks_out"] == before["naks_out"] + 1
    assert rig.do(lambda: rig.sim.naks_in[3]) >= 1
    rig.do(rig.sim.drop_acks, 1, bytes.fromhex("0801000202"))  # End Shed unanswered once: sent again
    code, r = rig.api("POST", "/api/dr/end", {})
    assert code == 200 and r["attempts"] == 2, r


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"\x00\x01\x02\x03\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /api/status\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\nHost\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\n" + b"X-Long: " + b"a" * 5000 + b"\r\n\r\n",
    b"POST /api/dr/shed HTTP/1.1\r\nContent-Length: 5\r\n\r\n{",
    b"POST /api/dr/shed HTTP/1.1\r\nContent-Length: -3\r\n\r\n",
    b"POST /api/dr/shed HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /api/dr/shed HTTP/1.1\r\nContent-Length: 999999\r\n\r\n",
    b"\xff\xfe\xfd /api/status HTTP/1.1\r\n\r\n",
    b"GET /%ff%fe HTTP/1.1\r\n\r\n",
    b"GET /api/log?n=abc HTTP/1.1\r\n\r\n",
    b"GET /api/log?n=-1 HTTP/1.1\r\n\r\n",
    b"GET /api/log?n=100000000000000000000 HTTP/1.1\r\n\r\n",
    b"DELETE /api/status HTTP/1.1\r\n\r\n",
    b"GET /nope HTTP/1.1\r\n\r\n",
    b"POST /api/dr/shed HTTP/1.1\r\n\r\n",
]


def _auth(body, ctype=b"application/json"):
    head = b"POST /api/dr/shed HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode()
    return head + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body


MALFORMED += [
    _auth(b"{not json"),
    _auth(b"[1, 2]"),
    _auth(b'"text"'),
    _auth(b'{"duration_s": "600"}'),
    _auth(b'{"duration_s": -5}'),
    _auth(b'{"duration_s": true}'),
    _auth(b'{"duration_s": 1.5}'),
    _auth(b'{"durations": 5}'),
    _auth(b'{"duration_s": 99999999999999999999999}'),
    _auth(b"\xff\xfe"),
    _auth(b'{"duration_s": 600}', b"text/plain\x00"),
    b"POST /api/dr/shed HTTP/1.1\r\nAuthorization: Bearer wrong\r\nContent-Length: 2\r\n\r\n{}",
]


def _raw(rig, data):
    s = socket.create_connection(("127.0.0.1", rig.http), timeout=15)
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before all our bytes were sent:
            pass  # what it answered is still to be read
        out = b""
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:  # the server closed with our bytes unread, which
                break  # resets the connection: a close, after what came
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def test_30_malformed_requests_then_still_serving(rig):
    rig.wait_up()
    sent_before = rig.do(lambda: len(rig.sim.received))
    assert len(MALFORMED) >= 30
    for data in rows(MALFORMED, 10):
        out = _raw(rig, data)
        if out:  # a request too broken to answer may just be closed
            code = int(out.split(b" ", 2)[1])
            assert 400 <= code < 500, (data[:60], out[:200])
            assert b"Traceback" not in out and TOKEN.encode() not in out
    assert rig.api("GET", "/api/status")[0] == 200
    assert rig.proc.poll() is None
    # nothing malformed reached the water heater (only the engine's own polls did)
    got = rig.do(lambda: [f for _, f in rig.sim.received[sent_before:]])
    assert not any(f[4] in (0x01, 0x17) for f in got if f[1] == 1)
    code, r = rig.api("POST", "/api/dr/shed", {"duration_s": 60})
    assert code == 200, r
    assert rig.api("POST", "/api/dr/end", {})[0] == 200


def test_state_changes_need_the_token(rig):
    for tok in (None, "wrong", TOKEN + "x"):
        code, r = rig.api("POST", "/api/dr/shed", {"duration_s": 60}, token=tok or None)
        assert code == 401, r
    assert rig.api("GET", "/api/status", token=None)[0] == 200
