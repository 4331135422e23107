# The engine's application behaviour on a fake clock: heartbeat, polls, answers to the
# SGD, commands and the state the firmware shows (PROTOCOL.md sections 3.1-3.4, 4.2-4.6).

from checks import MICROPYTHON, h
from ucm_harness import Bench

import ucm
from cta2045.frame import ACK, nak
from cta2045.message import decode, encode


def _sent(b, since, name):
    return [t for t, d in b.sgd.got if t > since and len(d) > 2 and decode(d).name == name]


def test_heartbeat_every_60s():
    b = Bench(poll_state_ms=0, poll_energy_ms=0).up()
    t0 = b.now
    b.run(185000)
    times = _sent(b, t0, "comm_status")
    assert len(times) == 3, times
    assert 59000 <= times[1] - times[0] <= 61000
    assert all(d == h("08 01 00 02 0E 01 E2 58") for _, d in b.sgd.got if len(d) > 2)


def test_upstream_lost_and_found_sent_at_once():
    b = Bench().up()
    t0 = b.now
    b.e.set_upstream(False)
    b.run(1000)
    assert h("08 01 00 02 0E 00 E4 57") in [d for t, d in b.sgd.got if t > t0]
    b.run(60000)
    assert b.sgd.frames().count(h("08 01 00 02 0E 00 E4 57")) == 2  # the heartbeat says lost too
    t1 = b.now
    b.e.set_upstream(True)
    b.run(1000)
    assert h("08 01 00 02 0E 01 E2 58") in [d for t, d in b.sgd.got if t > t1]
    assert b.e.status(b.now)["upstream"] is True


def test_periodic_state_and_commodity_polls():
    b = Bench(heartbeat_ms=600000, poll_state_ms=30000, poll_energy_ms=45000).up()
    t0 = b.now
    b.run(91000)
    assert len(_sent(b, t0, "op_state_query")) == 3
    assert len(_sent(b, t0, "commodity_read")) == 2


def test_polls_do_not_pile_up_while_sgd_is_silent():
    b = Bench(poll_state_ms=1000, heartbeat_ms=600000, poll_energy_ms=0, down_after_failures=99).up()
    b.sgd.silent = True
    t0 = b.now
    b.run(10000)
    queries = [t for t, d in b.sgd.got if t > t0 and d == h("08 01 00 02 12 00 D8 5F")]
    assert len(b.e.link._queue) <= 1  # one poll at a time, not one queued per second
    assert len(queries) <= 3 * 7


def test_get_information_on_demand():
    b = Bench().up()
    b.sgd.answer_info = None
    tx = b.submit("refresh_info")
    b.wait(tx)
    r = b.e.result(tx)
    assert r["result"] == "reply" and r["reply"]["fields"]["vendor_id"] == 0x0C22
    assert b.e.info["device_type"] == 3


def test_sleep_and_wake_get_app_acks():
    b = Bench().up()
    for op in (0x14, 0x15):
        t = b.now
        b.send(encode("sleep" if op == 0x14 else "wake"))
        b.run(1000)
        assert [d for tt, d in b.sgd.got if tt > t] == [ACK, encode("app_ack", opcode=op)]


def test_unsolicited_op_state_link_ack_only_by_default():
    b = Bench().up()
    t = b.now
    b.send(encode("op_state", state=11))
    b.run(1000)
    assert [d for tt, d in b.sgd.got if tt > t] == [ACK]
    b2 = Bench(app_ack_op_state=True).up()
    t = b2.now
    b2.send(encode("op_state", state=11))
    b2.run(1000)
    assert [d for tt, d in b2.sgd.got if tt > t] == [ACK, encode("app_ack", opcode=0x13)]


def test_get_utc_answered_from_clock():
    b = Bench(unix=946684800 + 0x12345678).up()
    t = b.now
    b.send(h("08 02 00 02 02 00 03 44"))
    b.run(1000)
    got = [d for tt, d in b.sgd.got if tt > t]
    assert got[0] == ACK
    m = decode(got[1])
    assert m.name == "utc_time" and m.reply and m.fields["rc"] == 0 and m.fields["utc"] == 0x12345678


def test_get_utc_error_code_while_time_unknown():
    b = Bench(unix=None).up()
    t = b.now
    b.send(h("08 02 00 02 02 00 03 44"))
    b.run(1000)
    got = [d for tt, d in b.sgd.got if tt > t]
    m = decode(got[1])
    assert m.name == "utc_time" and m.fields == {"rc": 6}


def test_get_information_about_the_ucm_setting():
    b = Bench().up()
    t = b.now
    b.send(h("08 02 00 02 01 01 04 43"))
    b.run(1000)
    got = [d for tt, d in b.sgd.got if tt > t]
    m = decode(got[1])
    assert got[0] == ACK and m.name == "get_information" and m.reply and len(m.payload) == 53
    # the firmware fields come from the project's one version and release day
    major, minor = (int(x) for x in ucm.__version__.split(".")[:2])
    f = m.fields
    assert (f["fw_major"], f["fw_minor"]) == (major, minor)
    assert (2000 + f["fw_year"], f["fw_month"] + 1, f["fw_day"]) == ucm.RELEASED  # month 0 = January
    assert 0 <= f["fw_month"] <= 11 and 1 <= f["fw_day"] <= 31
    if not MICROPYTHON:  # (names stays on the heap once imported: not in this 256k process)
        assert m.to_dict()["fields"]["fw_date"] == "%04d-%02d-%02d" % ucm.RELEASED
    b2 = Bench(answer_info=False).up()
    t = b2.now
    b2.send(h("08 02 00 02 01 01 04 43"))
    b2.run(1000)
    assert [d for tt, d in b2.sgd.got if tt > t] == [nak(7)]


def test_dr_event_state_and_expiry():
    b = Bench(unix=1800000000).up()
    b.sgd.state = 2
    tx = b.submit("shed", duration_s=600)
    b.wait(tx)
    r = b.e.result(tx)
    assert r["result"] == "ack" and r["duration_code"] == 17 and r["encoded_s"] == 578
    b.run(2000)
    st = b.e.status(b.now)
    ev = st["event"]
    assert ev["kind"] == "shed" and ev["requested_s"] == 600 and ev["encoded_s"] == 578
    assert ev["started_unix"] == 1800000000 and 570 <= ev["remaining_s"] <= 578
    assert st["sgd"]["op_state"]["name"] == "running_curtailed"  # confirmed by a query
    b.sgd.state = 1
    b.run(580000)
    st = b.e.status(b.now)
    assert st["event"] is None and st["sgd"]["op_state"]["name"] == "running_normal"


def test_end_clears_event_and_unknown_duration():
    b = Bench().up()
    tx = b.wait(b.submit("load_up"))
    assert b.e.result(tx)["duration_code"] == 0 and b.e.result(tx)["encoded_s"] is None
    b.run(100000)
    assert b.e.status(b.now)["event"]["remaining_s"] is None
    b.wait(b.submit("end"))
    assert b.e.status(b.now)["event"] is None


def test_app_nak_reason_and_last_nak():
    b = Bench().up()
    b.sgd.app_nak = 5
    tx = b.wait(b.submit("critical_peak", duration_s=3600))
    r = b.e.result(tx)
    assert r["result"] == "app_nak" and r["reason"] == "customer_override"
    st = b.e.status(b.now)
    assert st["last_app_nak"]["reason"] == "customer_override" and st["last_app_nak"]["request"] == "critical_peak"
    assert st["event"] is None


def test_override_flag_follows_sgd():
    b = Bench().up()
    b.send(encode("customer_override", override=1))
    b.run(1000)
    assert b.e.status(b.now)["sgd"]["override"] is True
    b.send(encode("customer_override", override=0))
    b.run(1000)
    assert b.e.status(b.now)["sgd"]["override"] is False


def test_op_state_time_of_last_change():
    b = Bench(poll_state_ms=10000).up()
    b.send(encode("op_state", state=1))
    b.run(500)
    t_change = b.e.op_state_at
    b.run(30000)  # polls keep answering 0... then the change is at the first poll
    assert b.e.op_state == 0 and b.e.op_state_at > t_change
    t2 = b.e.op_state_at
    b.run(30000)
    assert b.e.op_state_at == t2  # same state: no new change time


def test_link_down_after_failures_then_recovers():
    b = Bench(startup_retry_ms=5000).up()
    b.sgd.silent = True
    t1 = b.wait(b.submit("end"))
    t2 = b.wait(b.submit("end"))
    assert t1.result == t2.result == "no_ack"
    assert b.e.state == "down"
    tx = b.submit("shed")
    assert tx.done and b.e.result(tx)["result"] == "link_down"
    b.sgd.silent = False
    b.run(30000, lambda: b.e.state == "up")
    assert b.e.state == "up" and b.e.c["link_downs"] == 1
    assert b.wait(b.submit("shed")).result == "ack"


def test_commands_and_results():
    b = Bench().up()
    cases = (
        ("power_level", {"percent": 50, "direction": "absorb"}, "08 01 00 02 06 3F 7E 86"),
        ("price", {"relative": 1.0}, "08 01 00 02 07 41 77 8A"),
        ("grid_emergency", {}, "08 01 00 02 0B 00 ED 51"),
        ("critical_peak", {"duration_s": 3528}, "08 01 00 02 0A 2A 9C 79"),
        ("load_up", {"duration_s": 1800}, "08 01 00 02 17 1E 8D 87"),
        ("end", {}, "08 01 00 02 02 00 09 3F"),
        ("grid_guidance", {"guidance": "good"}, None),
        ("get_setpoint", {}, "08 02 00 02 03 03 F9 49"),
        ("refresh_energy", {}, "08 02 00 02 06 00 F6 4C"),
    )
    for kind, args, frame in cases:
        tx = b.wait(b.submit(kind, **args))
        assert tx.result in ("ack", "reply"), (kind, tx.result)
        if frame:
            assert tx.frame == h(frame), kind
    assert b.e.result(tx)["reply"]["fields"]["records"][1]["name"] == "total_storage_capacity"


def test_counters():
    b = Bench().up()
    b.send(h("08 01 00 02 03 02 04 42"))
    b.run(500)
    b.send(b"\x55\x66")
    b.run(500)
    c = b.e.status(b.now)["counters"]
    assert c["checksum_errors"] == 1 and c["naks_out"] == 1 and c["junk_bytes"] == 2
    assert c["frames_out"] >= 8 and c["acks_in"] >= 8 and c["frames_in"] >= 4


def test_frame_log():
    b = Bench(log_size=8).up()
    log = b.e.frames(50, b.now)
    assert len(log) == 8
    assert log[-1]["dir"] == "tx" and log[-1]["hex"] == "0600"
    assert log[-2]["msg"]["name"] == "commodity_read" and log[-2]["dir"] == "rx"
    assert all(e["t_ms"] <= b.now for e in log)
    assert len(b.e.frames(3, b.now)) == 3
