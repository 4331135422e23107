# Tests for tools/sgd_sim (the package), the simulated CTA-2045 water heater, and tools/ports.py.
# Most drive the sans-IO SgdSim directly on a fake clock, with a scripted UCM that sends
# frames built by cta2045.message.encode and link-ACKs what the simulator sends. A few run
# it for real: over a pty with FdPort and run(), and as the command line tool.

import asyncio
import json
import os
import select
import subprocess
import sys
import time

import pytest

import ports
import sgd_sim
from cta2045.frame import ACK, build, nak, valid
from cta2045.message import decode, encode
from sgd_sim import SgdSim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "sgd_sim")

MTSQ_BASIC = bytes.fromhex("0801 0000 7ecd")
MTSQ_INTERMEDIATE = bytes.fromhex("0802 0000 7ad0")
MTSQ_DATALINK = bytes.fromhex("0803 0000 76d3")
MAX_PAYLOAD_QUERY = bytes.fromhex("0803 0002 1800 ba75")
STATE = {name: i for i, name in enumerate(sgd_sim.STATE_NAMES)}


class Ucm:
    """A scripted UCM on a fake clock. It link-ACKs every frame the simulator sends after
    ack_ms (NAK 03 for a bad checksum) when ack is True, and can answer its 0x18
    (max_payload) and 0x11 (app_ack_11). rx holds (t, bytes) of all the simulator wrote."""

    def __init__(self, seed=0, ack=True, ack_ms=40, max_payload=None, app_ack_11=False, **settings):
        settings.setdefault("discovery_ms", 0)
        self.sim = SgdSim(seed=seed, **settings)
        self.t = 0
        self.ack = ack
        self.ack_ms = ack_ms
        self.max_payload = max_payload
        self.app_ack_11 = app_ack_11
        self.rx = []
        self.pending = []
        self.sim.poll(0)

    def send(self, data):
        self.sim.feed(data, self.t)

    def later(self, ms, data):
        self.pending.append((self.t + ms, data))

    def run(self, ms):
        """Advance the clock by ms, polling when the simulator or the script wants to."""
        end = self.t + ms
        while True:
            for f in self.sim.poll(self.t):
                self.rx.append((self.t, f))
                if len(f) > 2:
                    if self.ack:
                        self.later(self.ack_ms, ACK if valid(f) else nak(3))
                    if self.max_payload is not None and f[4:6] == b"\x18\x00" and f[:2] == b"\x08\x03":
                        self.later(1000, encode("max_payload", code=self.max_payload))
                    if self.app_ack_11 and f[:2] == b"\x08\x01" and f[4] == 0x11:
                        self.later(300, encode("app_ack", opcode=0x11))
            due = [p for p in self.pending if p[0] <= self.t]
            for p in due:
                self.pending.remove(p)
                self.send(p[1])
            if due:
                continue
            if self.t >= end:
                return
            nxt = [end, self.t + max(1, self.sim.next_due(self.t))] + [p[0] for p in self.pending]
            self.t = min(nxt)

    def since(self, t0):
        return [(t, f) for t, f in self.rx if t >= t0]

    def frames(self, t0=0):
        """Decoded frames (not ACK/NAKs) sent since t0: (t, Message)."""
        return [(t, decode(f)) for t, f in self.since(t0) if len(f) > 2]

    def exchange(self, frame, ms=1000):
        """Send frame, run ms; return (link answer bytes, its time offset, replies)."""
        t0 = self.t
        self.send(frame)
        self.run(ms)
        got = self.since(t0)
        link = [(t, f) for t, f in got if len(f) == 2]
        assert link, "no link ACK/NAK"
        return link[0][1], link[0][0] - t0, [m for _, m in self.frames(t0)]

    def reply(self, frame, ms=1000):
        """The one application reply to frame, after a link ACK."""
        answer, _, replies = self.exchange(frame, ms)
        assert answer == ACK
        assert len(replies) == 1, replies
        return replies[0]

    def query_state(self):
        m = self.reply(encode("op_state_query"))
        assert m.name == "op_state"
        return sgd_sim.STATE_NAMES[m.fields["state"]]


# --- link layer -------------------------------------------------------------------------


def test_link_ack_within_ack_delay_and_next_due_says_when():
    u = Ucm()
    u.run(100)
    u.send(encode("shed", duration=0x11))
    assert u.sim.next_due(u.t) == 15
    u.run(1000)
    acks = [t for t, f in u.since(100) if f == ACK]
    assert acks[0] == 115  # PROTOCOL.md section 2.2: real heaters ACK in 10-20 ms

    slow = Ucm(t_ma_ms=60)
    answer, dt, _ = slow.exchange(MTSQ_BASIC)
    assert (answer, dt) == (ACK, 60)


def test_app_reply_210_to_420_ms_after_own_ack():
    delays = set()
    for seed in range(25):
        u = Ucm(seed=seed)
        u.send(encode("critical_peak", duration=0x2A))
        u.run(1000)
        (t_ack, ack), (t_app, app) = u.rx
        assert ack == ACK and decode(app).name == "app_ack"
        assert 210 <= t_app - t_ack <= 420
        delays.add(t_app - t_ack)
    assert len(delays) > 10  # seeded random, not a constant
    # the same seed gives the same timing
    a, b = Ucm(seed=3), Ucm(seed=3)
    for u in (a, b):
        u.send(encode("shed"))
        u.run(1000)
    assert a.rx == b.rx


def test_never_answers_ack_or_nak():
    u = Ucm()
    for data in (ACK, nak(3), nak(7)):
        u.send(data)
        u.run(600)
    assert u.rx == []
    assert u.sim.counters["unexpected_acks"] == 1 and u.sim.counters["unexpected_naks"] == 2


def test_bad_checksum_nak03():
    u = Ucm()
    answer, dt, replies = u.exchange(bytes.fromhex("0801 0002 0302 0442"))  # PROTOCOL.md section 5, #5
    assert answer == nak(3) and dt == 15 and replies == []
    assert u.sim.naks_out[3] == 1 and u.sim.state_name() == "idle_normal"


def test_incomplete_frame_nak05_after_500_ms():
    u = Ucm()
    u.run(10)
    u.send(encode("shed")[:5])
    u.run(499)
    assert u.rx == []
    u.run(100)
    ((t, f),) = u.rx
    assert f == nak(5) and 510 <= t <= 510 + 15 + 1
    assert u.sim.counters["incomplete_in"] == 1
    answer, _, _ = u.exchange(encode("end_shed"))  # the link works on
    assert answer == ACK


def test_oversize_and_bad_length_nak02():
    u = Ucm()
    answer, _, _ = u.exchange(build(0x0802, bytes(100)))  # over our 64-byte max payload
    assert answer == nak(2)
    u.run(2000)
    answer, _, replies = u.exchange(build(0x0801, b"\x01\x00\x00"))  # Basic DR is LEN 2
    assert answer == nak(2) and replies == []


def test_unsupported_type_nak06():
    u = Ucm()
    for frame in (bytes.fromhex("0832 0002 0101 e234"), build(0x0804), build(0x0901, b"\x01\x02")):
        answer, _, _ = u.exchange(frame)
        assert answer == nak(6)
    for mtsq in (MTSQ_BASIC, MTSQ_INTERMEDIATE, MTSQ_DATALINK):
        assert u.exchange(mtsq) == (ACK, 15, [])


def test_no_intermediate_nak06():
    u = Ucm(intermediate=False)
    assert u.exchange(MTSQ_INTERMEDIATE)[0] == nak(6)
    assert u.exchange(encode("get_information"))[0] == nak(6)
    assert u.exchange(encode("commodity_read"))[0] == nak(6)
    assert u.exchange(MTSQ_BASIC)[0] == ACK


def test_unsupported_opcode_nak07():
    u = Ucm(features=["info", "commodity"])
    for frame in (
        encode("setpoint"),  # a known request, but not a feature here
        encode("advanced_load_up"),
        encode("cycling_terminate", event_id=1, end_rand=0),
        build(0x0802, b"\x0d\x00"),  # unknown Intermediate opcode
        build(0x0801, b"\x05\x00"),  # unknown Basic opcode
        encode("sleep"),  # SGD->UCM only
        encode("bit_rate", rate=3),
        encode("commodity_read", records=[{"code": 0, "rate": 1, "cumulative": 2}]),  # Set
    ):
        answer, _, replies = u.exchange(frame)
        assert (answer, replies) == (nak(7), []), frame.hex()
    assert u.exchange(encode("bit_rate", rate=0))[0] == ACK
    assert Ucm(unknown_basic=6).exchange(build(0x0801, b"\x05\x00"))[0] == nak(6)
    m = Ucm(unknown_basic=0).reply(build(0x0801, b"\x05\x00"))
    assert (m.name, m.fields) == ("app_nak", {"reason": 1})


# --- Basic DR ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, field, value, state",
    [
        ("shed", "duration", 0x11, "idle_curtailed"),
        ("critical_peak", "duration", 0x2A, "idle_curtailed"),
        ("grid_emergency", "duration", 0, "idle_curtailed"),
        ("load_up", "duration", 0x1E, "running_heightened"),
        ("end_shed", "op2", 0, "idle_normal"),
        ("power_level", "power", 63, "idle_normal"),
        ("present_price", "price", 0x41, "idle_normal"),
        ("next_price", "price", 0x65, "idle_normal"),
        ("time_remaining", "duration", 0x1E, "idle_normal"),
        ("grid_guidance", "guidance", 2, "idle_normal"),
        ("comm_status", "status", 1, "idle_normal"),
        ("time_sync", "timesync", 0x4E, "idle_normal"),
        ("pending_event_time", "duration", 0x0F, "idle_normal"),
        ("pending_event_type", "opcode", 0x01, "idle_normal"),
    ],
)
def test_basic_command_app_ack_and_state(kind, field, value, state):
    u = Ucm()
    frame = encode(kind, **{field: value})
    m = u.reply(frame)
    assert (m.name, m.fields["opcode"]) == ("app_ack", frame[4])
    assert u.query_state() == state == u.sim.state_name()


def test_running_and_idle_states_follow_heating():
    u = Ucm()
    assert u.query_state() == "idle_normal"
    u.sim.draw(2000)  # take 2300 Wh > 900: the heat pump starts
    assert u.query_state() == "running_normal" and u.sim.heating == "heat_pump"
    u.reply(encode("shed", duration=0x11))
    assert u.query_state() == "idle_curtailed" and u.sim.power_w() == 0
    u.sim.draw(8000)  # very large take: heats even while curtailed
    assert u.query_state() == "running_curtailed" and u.sim.heating == "element"
    u.reply(encode("end_shed"))
    assert u.query_state() == "running_normal"


def test_event_expires_back_to_normal():
    u = Ucm()
    u.reply(encode("shed", duration=5))  # 2 * 5^2 = 50 s
    u.run(47000)
    assert u.query_state() == "idle_curtailed"
    assert u.sim.status()["event"]["remaining_s"] in (1, 2)
    u.run(2000)
    assert u.query_state() == "idle_normal"
    assert u.sim.status()["event"] is None and u.sim.counters["events_expired"] == 1


def test_unknown_duration_until_end_shed_with_cap():
    u = Ucm(unknown_duration_s=100)
    u.reply(encode("grid_emergency", duration=0))
    assert u.sim.status()["event"]["duration_s"] is None
    u.run(97000)
    assert u.query_state() == "idle_curtailed"
    u.run(3000)
    assert u.query_state() == "idle_normal"

    nocap = Ucm(unknown_duration_s=0)
    nocap.reply(encode("shed", duration=0))
    nocap.t += 3 * 3600 * 1000  # jump: one poll integrates the whole span
    nocap.run(0)
    assert nocap.query_state() == "idle_curtailed"
    nocap.reply(encode("end_shed"))
    assert nocap.query_state() == "idle_normal"


def test_comm_status_recorded_and_optional_comm_loss_cancel():
    u = Ucm(comm_loss_cancel_s=300)
    u.reply(encode("comm_status", status=1))
    u.reply(encode("shed", duration=0x3C))  # 2 h
    for _ in range(7):  # a heartbeat every 60 s keeps the shed
        u.run(59000)
        u.reply(encode("comm_status", status=1))
    assert u.query_state() == "idle_curtailed"
    st = u.sim.status()["ucm"]
    assert st["comm_status"] == 1 and st["comm_status_age_s"] < 3
    u.run(301000)  # silence from the UCM: cancelled as EPRI's simulator does
    assert u.query_state() == "idle_normal" and u.sim.counters["comm_loss_cancels"] == 1

    off = Ucm()  # default: no cancel
    off.reply(encode("shed", duration=0x3C))
    off.run(400000)
    assert off.query_state() == "idle_curtailed"


def test_values_recorded():
    u = Ucm()
    u.reply(encode("present_price", price=0x65))
    u.reply(encode("grid_guidance", guidance=0))
    assert u.sim.status()["ucm"]["settings"] == {"present_price": 0x65, "grid_guidance": 0}


def test_app_ack_from_ucm_gets_link_ack_only():
    u = Ucm()
    assert u.exchange(encode("app_ack", opcode=0x13)) == (ACK, 15, [])
    assert u.exchange(encode("app_nak", reason=2)) == (ACK, 15, [])
    assert u.exchange(encode("op_state", state=0)) == (ACK, 15, [])


# --- customer override ------------------------------------------------------------------


def test_set_override_sends_11_01_and_retries_nothing_on_ack():
    u = Ucm(app_ack_11=True)
    u.run(500)
    u.sim.set_override(True)
    u.run(6000)
    sent = [m for _, m in u.frames()]
    assert [(m.name, m.op2) for m in sent] == [("customer_override", 1)]
    assert u.rx[0][1] == bytes.fromhex("0801 0002 1101 d95e")
    o = u.sim.outcomes[-1]
    assert (o["kind"], o["result"], o["attempts"]) == ("override", "app_ack", 1)
    assert u.sim.counters["app_acks_in"] == 1
    assert u.query_state() == "idle_opted_out"

    u.sim.draw(3000)
    assert u.query_state() == "running_opted_out"

    t0 = u.t
    u.sim.set_override(False)
    u.run(2000)
    assert [f for _, f in u.since(t0) if len(f) > 2] == [bytes.fromhex("0801 0002 1100 db5d")]
    assert u.sim.outcomes[-1]["result"] == "app_ack"
    assert u.query_state() == "running_normal"


def test_override_without_app_ack_or_link_ack():
    u = Ucm()  # link-ACKs but sends no App ACK
    u.sim.set_override(True)
    u.run(5000)
    o = u.sim.outcomes[-1]
    assert (o["result"], o["attempts"]) == ("timeout", 1)
    assert 3000 <= o["done_ms"] - o["ack_ms"] <= 3001

    mute = Ucm(ack=False)
    mute.sim.set_override(True)
    mute.run(5000)
    sent = [t for t, f in mute.rx if f[4:5] == b"\x11"]
    assert len(sent) == 3 and sent[1] - sent[0] == 1000 and sent[2] - sent[1] == 1000
    assert mute.sim.outcomes[-1]["result"] == "no_ack"


def test_override_app_nak_05():
    u = Ucm(app_ack_11=True)
    u.sim.set_override(True)
    u.run(2000)
    for kind in ("shed", "critical_peak", "grid_emergency", "load_up"):
        m = u.reply(encode(kind, duration=0x11))
        assert (m.name, m.fields) == ("app_nak", {"reason": 5})
        assert u.sim.status()["event"] is None
    assert u.reply(encode("present_price", price=0x41)).name == "app_ack"
    assert u.query_state() == "idle_opted_out"

    lenient = Ucm(app_ack_11=True, nak_when_override=False)
    lenient.sim.set_override(True)
    lenient.run(2000)
    assert lenient.reply(encode("shed", duration=0x11)).name == "app_ack"
    assert lenient.query_state() == "idle_opted_out"  # PROTOCOL.md section 3.4: ACK, then opted out
    lenient.sim.set_override(False)
    lenient.run(2000)
    assert lenient.query_state() == "idle_curtailed"


# --- discovery --------------------------------------------------------------------------


def burst_starts(u):
    return [t for t, f in u.rx if f == MTSQ_BASIC]


def test_discovery_burst_content_and_period_when_answered():
    u = Ucm(discovery_ms=22000, max_payload=7)
    u.run(60000)
    sent = [f for _, f in u.rx if len(f) > 2]
    assert sent[:4] == [MTSQ_BASIC, MTSQ_INTERMEDIATE, MTSQ_DATALINK, MAX_PAYLOAD_QUERY]
    starts = burst_starts(u)
    assert starts[0] == 1000  # first burst soon after boot
    assert len(starts) >= 2
    for a, b in zip(starts, starts[1:]):
        assert 19000 <= b - a <= 25000
    assert len(set(b - a for a, b in zip(starts, starts[1:]))) >= 1
    kinds = [(o["kind"], o["result"]) for o in u.sim.outcomes[:4]]
    assert kinds == [
        ("mtsq_basic", "ack"),
        ("mtsq_intermediate", "ack"),
        ("mtsq_data_link", "ack"),
        ("max_payload_query", "reply"),
    ]
    assert u.sim.outcomes[3]["code"] == 7
    st = u.sim.status()
    assert st["ucm"]["max_payload_code"] == 7
    assert st["ucm"]["types"] == {"basic_dr": True, "intermediate_dr": True, "data_link": True}
    assert st["discovery"]["answered"] is True


def test_discovery_unanswered_repeats_each_item_and_waits_longer():
    u = Ucm(discovery_ms=22000, ack=False)
    u.run(80000)
    sent = [(t, f) for t, f in u.rx if len(f) > 2]
    first = [f for _, f in sent[:12]]
    assert first == [MTSQ_BASIC] * 3 + [MTSQ_INTERMEDIATE] * 3 + [MTSQ_DATALINK] * 3 + [MAX_PAYLOAD_QUERY] * 3
    times = [t for t, _ in sent[:3]]
    assert times[1] - times[0] == times[2] - times[1] == 1000  # about 1 s apart
    starts = [t for t, f in sent if f == MTSQ_BASIC][::3]
    assert len(starts) >= 2
    for a, b in zip(starts, starts[1:]):
        assert 29000 <= b - a <= 35000
    assert all(o["result"] == "no_ack" for o in u.sim.outcomes)
    assert u.sim.status()["discovery"]["answered"] is False


def test_discovery_off():
    u = Ucm(discovery_ms=0)
    u.run(120000)
    assert u.rx == []


def test_ucm_mtsq_nak_marks_type_unsupported():
    u = Ucm(discovery_ms=22000, ack=False)
    u.run(1000)
    assert u.rx[-1][1] == MTSQ_BASIC
    u.send(nak(6))
    u.run(100)
    assert u.sim.status()["ucm"]["types"]["basic_dr"] is False
    assert u.sim.outcomes[-1] == dict(u.sim.outcomes[-1], kind="mtsq_basic", result="nak", nak=6, attempts=1)


def test_max_payload_query_from_ucm():
    m = Ucm().reply(MAX_PAYLOAD_QUERY)
    assert m.name == "max_payload" and m.fields == {"code": 5}
    u = Ucm()
    u.send(MAX_PAYLOAD_QUERY)
    u.run(1000)
    assert u.rx[1][1] == bytes.fromhex("0803 0002 1905 ad7c")  # PROTOCOL.md section 2.6
    assert Ucm(max_payload_code=7).reply(MAX_PAYLOAD_QUERY).fields == {"code": 7}
    u = Ucm()
    assert u.exchange(encode("max_payload", code=7)) == (ACK, 15, [])  # unsolicited: recorded
    assert u.sim.status()["ucm"]["max_payload_code"] == 7


def test_get_utc_requests_when_enabled():
    u = Ucm(discovery_ms=22000, utc_query_ms=10000)
    u.run(2000)  # discovery: the UCM ACKs MTSQ 08 02
    u.run(9000)
    gets = [t for t, m in u.frames() if m.name == "utc_time"]
    assert gets and u.rx[-1][1] == bytes.fromhex("0802 0002 0200 0344")
    u.send(encode("utc_time", reply=True, rc=0, utc=800000000, tz=-20, dst=4))
    u.run(200)
    o = [o for o in u.sim.outcomes if o["kind"] == "get_utc"][-1]
    assert o["result"] == "reply" and o["fields"]["utc"] == 800000000
    assert u.sim.status()["ucm"]["utc"]["tz"] == -20

    off = Ucm(discovery_ms=22000)
    off.run(60000)
    assert not [m for _, m in off.frames() if m.name == "utc_time"]


# --- Intermediate DR --------------------------------------------------------------------


def test_get_information_reply():
    u = Ucm(seed=42)
    answer, _, (m,) = u.exchange(encode("get_information"))
    assert answer == ACK and m.reply and len(m.payload) == 53
    f = m.fields
    assert (f["rc"], f["device_type"], f["model"]) == (0, 3, "HPWH-SIM-50")
    assert f["capability"] & 0x40 and f["serial"] == "SIM00000042"
    d = m.to_dict()["fields"]
    assert d["fw_date"] == "2024-05-12" and d["device_type_name"] == "water_heater_heat_pump"
    no_alu = Ucm(features=["info"]).reply(encode("get_information"))
    assert no_alu.fields["capability"] & 0x40 == 0


def commodity(u, code=None):
    frame = encode("commodity_read") if code is None else encode("commodity_read", commodity=code)
    m = u.reply(frame)
    assert m.name == "commodity_read" and m.reply and m.fields["rc"] == 0
    return {r["code"]: r for r in m.fields.get("records", [])}, m


def test_commodity_consistent_with_tank_model():
    u = Ucm()
    recs, m = commodity(u)
    assert sorted(recs) == [0, 6, 7] and len(m.payload) == 3 + 3 * 13
    assert m.payload[3] == 0x80  # code 0 measured (bit 7, PROTOCOL.md section 4.3)
    assert m.payload[3 + 13] == 6 and m.payload[3 + 26] == 7  # estimated
    assert recs[6]["cumulative"] == 12000
    assert recs[7]["cumulative"] == 306  # 300 Wh of take, in 18 Wh steps
    assert recs[0]["rate"] == 0 and recs[0]["cumulative"] == 0

    u.sim.draw(3000)
    recs, _ = commodity(u)
    take = u.sim.take_wh()
    assert recs[7]["cumulative"] % 18 == 0 and abs(recs[7]["cumulative"] - take) <= 9
    assert 3250 < take < 3300
    assert recs[0]["rate"] == 450 and recs[0]["measured"]  # heat pump running

    u.run(3600 * 1000)  # one hour of heat pump: 450 Wh in, 3 x 450 - 35 Wh stored
    recs, _ = commodity(u)
    assert recs[0]["cumulative"] in range(445, 456)
    assert abs(u.sim.take_wh() - (take - 1315)) < 5

    one, m = commodity(u, 7)
    assert list(one) == [7] and len(m.payload) == 16
    bad = u.reply(encode("commodity_read", commodity=3))
    assert bad.fields == {"rc": 2}


def test_heat_pump_element_and_load_up_model():
    u = Ucm()
    u.sim.draw(6000)  # take 6300 > 40 % of 12000: element
    assert u.sim.heating == "element" and commodity(u)[0][0]["rate"] == 4500
    u.run(5 * 3600 * 1000)  # element, then heat pump back to the setpoint; stops
    assert u.sim.heating is None and -5 < u.sim.take_wh() < 80
    stored = u.sim.stored_wh
    u.reply(encode("load_up", duration=0x3C))  # 2 h: heats beyond the setpoint
    assert u.query_state() == "running_heightened"
    u.run(3 * 3600 * 1000)
    assert u.sim.stored_wh > stored + 1500
    assert u.query_state() == "idle_normal"  # expired, tank above its normal target
    recs, _ = commodity(u)
    assert recs[7]["cumulative"] == 0


def test_random_draws_are_seeded():
    a, b = Ucm(seed=5, draws_per_hour=4.0), Ucm(seed=5, draws_per_hour=4.0)
    for u in (a, b):
        u.run(4 * 3600 * 1000)
    assert a.sim.counters["draws"] >= 4 and a.sim.energy_wh > 0
    assert a.sim.stored_wh == b.sim.stored_wh


def test_setpoint_get_and_set():
    u = Ucm()
    m = u.reply(encode("setpoint"))
    assert m.fields == {"rc": 0, "device_type": 3, "temp_units": 0, "setpoint1": 125}
    # PROTOCOL.md section 4.5 example: Set 125 F with sp2 unchanged, LEN 9
    assert bytes.fromhex("0802 0009 0303 0002 0000 7d80 00fd 3e") == encode(
        "setpoint", device_type=2, temp_units=0, setpoint1=125, setpoint2=-32768
    )
    m = u.reply(encode("setpoint", device_type=3, temp_units=0, setpoint1=120, setpoint2=-32768))
    assert m.fields == {"rc": 0} and m.payload == b"\x03\x83\x00"
    assert u.reply(encode("setpoint")).fields["setpoint1"] == 120
    assert commodity(u)[0][6]["cumulative"] == 11200  # 12000 * (120 - 50) / (125 - 50)
    m = u.reply(encode("setpoint", device_type=3, temp_units=1, setpoint1=50))  # LEN 7, in C
    assert m.fields == {"rc": 0} and u.sim.setpoint_f == 122
    m = u.reply(encode("setpoint", device_type=3, temp_units=0, setpoint1=200))
    assert m.fields == {"rc": 2} and u.sim.setpoint_f == 122
    m = u.reply(build(0x0802, b"\x03\x03\x00\x03\x00"))  # truncated Set
    assert m.fields == {"rc": 3}


def test_present_temperature():
    u = Ucm()
    m = u.reply(encode("present_temperature"))
    assert m.fields == {"rc": 0, "device_type": 3, "temp_units": 0, "temperature": 123}
    u.sim.draw(6000)
    assert u.reply(encode("present_temperature")).fields["temperature"] == 86


def test_advanced_load_up():
    u = Ucm()
    get = u.reply(encode("advanced_load_up"))
    assert get.fields == {"rc": 0, "duration_min": 0, "value": 0, "units": 0xFF}
    probe = u.reply(bytes.fromhex("0802 0007 0c00 0000 0000 ff e94e"))
    assert probe.payload == b"\x0c\x80\x00" and u.sim.status()["event"] is None
    m = u.reply(bytes.fromhex("0802 0007 0c00 003c 0005 02 a94b"))  # 60 min, 500 Wh
    assert m.fields == {"rc": 0}
    assert u.query_state() in ("running_heightened", "idle_heightened")
    assert u.sim.status()["event"]["extra_wh"] == 500
    get = u.reply(encode("advanced_load_up"))
    assert (get.fields["duration_min"], get.fields["value"], get.fields["units"]) == (60, 5, 2)
    assert u.reply(encode("advanced_load_up", duration_min=10, value=1, units=7)).fields == {"rc": 2}
    u.run(3600 * 1000)
    assert u.query_state() == "idle_normal"


def test_utc_from_ucm():
    u = Ucm(utc_start=1_700_000_000)
    m = u.reply(encode("utc_time"))
    assert m.fields["rc"] == 0 and abs(m.fields["utc"] - (1_700_000_000 - 946684800)) <= 1
    m = u.reply(encode("utc_time", utc=800000000, tz=0, dst=0))
    assert m.payload == b"\x02\x80\x00"
    assert abs(u.sim.utc_now() - (800000000 + 946684800)) < 2


# --- fault injection --------------------------------------------------------------------


def test_drop_acks():
    u = Ucm()
    u.sim.drop_acks(1)
    u.send(encode("shed", duration=0x11))
    u.run(1000)
    assert u.rx == [] and u.sim.status()["event"] is None  # as if never received
    assert u.reply(encode("shed", duration=0x11)).name == "app_ack"  # the retry works
    assert u.sim.counters["acks_dropped"] == 1
    end_shed = encode("end_shed")
    u.sim.drop_acks(1, match=end_shed[:5])  # only the next End Shed
    assert u.reply(encode("op_state_query")).name == "op_state"
    n = len(u.rx)
    u.send(end_shed)
    u.run(1000)
    assert len(u.rx) == n and u.sim.state_name() == "idle_curtailed"
    assert u.reply(end_shed).name == "app_ack" and u.sim.state_name() == "idle_normal"


def test_delayed_acks():
    u = Ucm()
    u.sim.t_ma_ms = 250  # later than a UCM's 200 ms ACK timeout
    answer, dt, (m,) = u.exchange(encode("load_up", duration=0x1E))
    assert (answer, dt, m.name) == (ACK, 250, "app_ack")
    assert 250 + 210 <= [t for t, f in u.rx if len(f) > 2][0] <= 250 + 420


def test_corrupt_frames():
    u = Ucm()  # NAKs 03 what arrives damaged
    u.sim.corrupt(1)
    u.send(encode("shed", duration=0x11))
    u.run(3000)
    sent = [(t, f) for t, f in u.rx if len(f) > 2]
    assert len(sent) == 2 and sent[0][1][:-1] == sent[1][1][:-1]
    assert not valid(sent[0][1]) and decode(sent[0][1], check=False).name == "app_ack"
    assert valid(sent[1][1]) and sent[1][0] - sent[0][0] == 1000  # sent again, intact
    c = u.sim.counters
    assert (c["frames_corrupted"], c["retries"], c["replies_acked"], c["app_acks_out"]) == (1, 1, 1, 1)
    assert u.sim.naks_in == {3: 1}
    assert u.reply(encode("op_state_query")).checksum_ok  # only the next frame was damaged

    # a request of ours that arrives damaged is sent again too
    v = Ucm()
    v.sim.corrupt(1)
    v.sim.set_override(True)
    v.run(1500)
    sent = [f for _, f in v.rx if len(f) > 2]
    assert len(sent) == 2 and not valid(sent[0]) and valid(sent[1]) and v.sim.naks_in[3] == 1
    assert v.sim.outcomes == [] and v.sim.status()["pending_requests"] == 1  # App ACK awaited


def test_unacked_reply_is_sent_three_times_then_given_up():
    u = Ucm(ack=False)
    u.send(encode("shed", duration=0x11))
    u.run(5000)
    sent = [t for t, f in u.rx if len(f) > 2]
    assert len(sent) == 3 and sent[1] - sent[0] == sent[2] - sent[1] == 1000
    assert u.sim.counters["replies_unacked"] == 1 and u.sim.counters["app_acks_out"] == 1


def test_silent():
    u = Ucm()
    u.run(100)
    u.sim.silent(2000)
    u.send(encode("shed"))
    u.run(1500)
    assert u.rx == [] and u.sim.status()["silent"] and u.sim.status()["event"] is None
    u.run(600)
    assert u.exchange(MTSQ_BASIC)[0] == ACK
    u.sim.silent(None)  # until told otherwise
    u.send(MTSQ_BASIC)
    u.run(60000)
    assert len(u.rx) == 1
    u.sim.silent(0)
    assert u.exchange(MTSQ_BASIC)[0] == ACK


def test_silence_drops_a_pending_reply_and_delays_discovery():
    u = Ucm(discovery_ms=22000)
    u.run(500)
    u.send(encode("shed"))
    u.run(100)  # ACKed; the App ACK is due later
    u.sim.silent(3000)  # from t = 600 to 3600
    u.run(2999)
    assert [f for _, f in u.rx] == [ACK]  # no App ACK, no discovery burst at 1000
    u.run(3000)
    assert u.rx[1] == (3600, MTSQ_BASIC)  # the burst comes once the silence is over


def test_reboot():
    u = Ucm(discovery_ms=22000, app_ack_11=True, max_payload=7)
    u.run(5000)
    u.sim.set_override(True)
    u.run(1000)
    u.reply(encode("comm_status", status=1))
    assert u.sim.override and u.sim.status()["ucm"]["max_payload_code"] == 7
    t0 = u.t
    u.sim.reboot(2000)
    u.send(MTSQ_BASIC)
    u.run(1990)
    assert u.since(t0) == [] and u.sim.status()["rebooting"]
    u.run(20)
    st = u.sim.status()
    assert not st["override"] and st["event"] is None and not st["rebooting"]
    assert st["ucm"]["max_payload_code"] is None and st["ucm"]["comm_status"] is None
    assert st["counters"]["reboots"] == 1
    u.run(2000)
    first = [(t, f) for t, f in u.since(t0) if len(f) > 2][0]
    assert first == (t0 + 3000, MTSQ_BASIC)  # discovery from scratch, 1 s after boot
    assert u.query_state() == "idle_normal"


def test_reboot_clears_event():
    u = Ucm()
    u.reply(encode("shed", duration=0x3C))
    u.sim.reboot(500)
    u.run(600)
    assert u.query_state() == "idle_normal"


def test_faults_before_first_poll_apply_from_start():
    sim = SgdSim(discovery_ms=0)
    sim.silent(1000)
    sim.feed(MTSQ_BASIC, 50000)
    assert sim.poll(50100) == [] and sim.status()["silent"]
    sim.feed(MTSQ_BASIC, 51000)
    assert sim.poll(51015) == [ACK]


# --- observability ----------------------------------------------------------------------


def test_trace_counters_and_received():
    seen = []
    u = Ucm()
    u.sim.trace = lambda d, data, t: seen.append((d, data, t))
    u.send(encode("shed", duration=0x11))
    u.run(1000)
    u.send(bytes.fromhex("0801 0002 0302 0442"))
    u.run(100)
    assert [(d, decode(b, check=False).name) for d, b, _ in seen] == [
        ("in", "shed"),
        ("out", "link_ack"),
        ("out", "app_ack"),
        ("in", "link_ack"),
        ("in", "app_ack"),
        ("out", "link_nak"),
    ]
    c = u.sim.counters
    assert (c["frames_in"], c["frames_out"], c["acks_out"], c["acks_in"], c["app_acks_out"]) == (1, 1, 1, 1, 1)
    assert u.sim.naks_out == {3: 1} and c["bad_checksum_in"] == 1
    assert u.sim.received == [(0, encode("shed", duration=0x11))]
    st = u.sim.status()
    json.dumps(st)
    assert st["naks_out"] == {"03": 1} and st["state_name"] == "idle_curtailed"


def test_settings_validated():
    with pytest.raises(TypeError):
        SgdSim(no_such_setting=1)
    with pytest.raises(ValueError):
        SgdSim(features=["info", "teleport"])
    assert SgdSim(features="info,alu").features == {"info", "alu"}


# --- ports, run() over a pty, the command line --------------------------------------------


def test_memory_pair():
    a, b = ports.memory_pair()
    asyncio.run(a.write(b"\x06\x00\x15"))
    buf = bytearray(2)
    assert b.readinto(buf) == 2 and buf == b"\x06\x00"
    assert b.readinto(buf) == 1 and buf[:1] == b"\x15"
    assert b.readinto(buf) == 0 and a.readinto(buf) == 0


def test_run_over_a_pty_with_fdport():
    master, slave, path = ports.open_pty()
    assert os.ttyname(slave) == path
    sim = SgdSim(seed=2, discovery_ms=0)
    port = ports.FdPort(master)
    os.set_blocking(slave, False)

    async def scenario():
        task = asyncio.create_task(sgd_sim.run(sim, port))
        os.write(slave, MTSQ_BASIC + encode("shed", duration=0x11))
        got = bytearray()
        app_ack = encode("app_ack", opcode=1)
        while app_ack not in got:
            try:
                got += os.read(slave, 256)
            except BlockingIOError:
                pass
            await asyncio.sleep(0.005)
        os.write(slave, ACK)
        await asyncio.sleep(0.05)
        task.cancel()
        return bytes(got)

    try:
        got = asyncio.run(asyncio.wait_for(scenario(), 5))
    finally:
        os.close(slave)
    assert got == ACK + ACK + encode("app_ack", opcode=1)  # raw: no CR/LF translation
    assert sim.counters["replies_acked"] == 1 and sim.state_name() == "idle_curtailed"
    # the slave closed: reads give nothing and writes are dropped, no error
    buf = bytearray(16)
    assert port.readinto(buf) == 0 and port.peer_closed
    asyncio.run(port.write(ACK))
    assert port.dropped_bytes == 2
    port.close()


def test_cli_over_pty():
    proc = subprocess.Popen(
        [sys.executable, TOOL, "--pty", "--discovery-s", "0", "--seed", "4"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert select.select([proc.stdout], [], [], 10)[0], "no output"
        first = proc.stdout.readline()
        assert first.startswith("pty: /dev/")
        fd = os.open(first.split(": ", 1)[1].strip(), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            os.write(fd, MTSQ_BASIC)
            got = b""
            deadline = time.monotonic() + 5
            while ACK not in got and time.monotonic() < deadline:
                try:
                    got += os.read(fd, 64)
                except BlockingIOError:
                    pass
                time.sleep(0.005)
            assert got == ACK
        finally:
            os.close(fd)
        out, err = proc.communicate("bogus\nstatus\n", timeout=10)  # then EOF
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err, err
    lines = out.splitlines()
    assert any("UCM->SGD 08 01 00 00 7e cd type_supported_query" in ln for ln in lines)
    assert any("SGD->UCM 06 00 link_ack" in ln for ln in lines)
    assert any(ln.startswith("error: unknown command 'bogus'") for ln in lines)
    status = json.loads([ln for ln in lines if ln.startswith("{")][-1])
    assert status["counters"]["mtsq_in"] == 1 and status["state_name"] == "idle_normal"


def test_cli_commands():
    sim = SgdSim(discovery_ms=0)
    sim.poll(0)
    for bad in ("frobnicate", "override maybe", "silent soon", "draw -5", "drop-acks", "corrupt x", "delay-ack -1"):
        out = sgd_sim.command(sim, bad)
        assert out.startswith("error: ") and "\n" not in out, bad
    assert sgd_sim.command(sim, "") == ""
    assert "override on|off" in sgd_sim.command(sim, "help")
    assert sgd_sim.command(sim, "override on") == "override on" and sim.override
    sgd_sim.command(sim, "drop-acks 2")
    sgd_sim.command(sim, "corrupt 1")
    sgd_sim.command(sim, "delay-ack 30")
    sgd_sim.command(sim, "draw 1000")
    assert (sim._drop, sim._corrupt, sim.t_ma_ms, round(sim.take_wh())) == (2, 1, 30, 1300)
    sgd_sim.command(sim, "silent 1.5")
    assert sim.status()["silent"]
    sgd_sim.command(sim, "reboot 1")
    assert sim.status()["rebooting"]
    assert json.loads(sgd_sim.command(sim, "status"))["override"] is True
    with pytest.raises(sgd_sim._Quit):
        sgd_sim.command(sim, "quit")


def test_describe_lines():
    assert sgd_sim.describe(encode("shed", duration=0x11)) == "shed duration=17 duration_s=578"
    assert sgd_sim.describe(nak(7)) == "link_nak 07(request_not_supported)"
    assert sgd_sim.describe(encode("op_state", state=2)) == "op_state state=2(running_curtailed)"
    assert sgd_sim.describe(b"\x08\x01\x00").startswith("undecodable")
    assert sgd_sim.describe(bytes.fromhex("0801 0002 0302 0442")).endswith("BAD-CHECKSUM")
