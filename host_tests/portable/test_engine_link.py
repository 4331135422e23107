# The engine's link layer on a fake clock: ACK/NAK timing and codes, retries, the
# request queue, holds and negotiation (PROTOCOL.md sections 2.1-2.7). One test per rule.

from checks import h, raises
from ucm_harness import Bench, Sgd, wire_ms

from cta2045.frame import ACK, build, nak
from cta2045.message import encode
from ucm.settings import Settings


def _answers(b, since):
    """Link ACK/NAKs the UCM sent after time since."""
    return [(t, d) for t, d in b.sgd.got if t > since and len(d) == 2]


def _sgd_frame(b, data):
    """Send data from the SGD now; returns the time its last byte arrives."""
    b.send(data)
    return b.now + wire_ms(len(data))


def test_ack_once_within_t_ma():
    b = Bench().up()
    t = _sgd_frame(b, h("08 01 00 02 13 02 D1 63"))  # unsolicited op state
    b.run(1000)
    acks = _answers(b, t - 1)
    assert len(acks) == 1 and acks[0][1] == ACK
    d = acks[0][0] - wire_ms(2) - t
    assert 40 <= d <= 200, d
    assert b.e.op_state == 2


def test_nak03_on_bad_checksum():
    b = Bench().up()
    t = _sgd_frame(b, h("08 01 00 02 03 02 04 42"))  # vector 5, must fail
    b.run(1000)
    assert [d for _, d in _answers(b, t - 1)] == [nak(3)]
    assert b.e.c["checksum_errors"] == 1


def test_nak02_on_oversize():
    b = Bench().up()
    t = _sgd_frame(b, h("08 02 01 01") + bytes(263))  # LEN 257 > our 256
    b.run(1000)
    got = [d for _, d in _answers(b, t - 1000)]
    assert got[0] == nak(2), got
    assert b.e.c["oversize"] == 1


def test_nak02_on_basic_with_wrong_len():
    b = Bench().up()
    t = _sgd_frame(b, build(0x0801, b"\x13\x00\x00"))
    b.run(1000)
    assert [d for _, d in _answers(b, t - 1)] == [nak(2)]


def test_nak05_after_t_ml_not_before():
    b = Bench().up()
    t = _sgd_frame(b, h("08 01 00 02 13"))
    b.run(400)
    assert _answers(b, t - 10) == []
    b.run(400)
    got = _answers(b, t - 10)
    assert [d for _, d in got] == [nak(5)]
    assert got[0][0] - t >= 500


def test_nak06_on_unknown_type_and_mtsq():
    b = Bench().up()
    t = _sgd_frame(b, h("08 32 00 02 01 01 E2 34"))  # vector 23
    b.run(500)
    t2 = _sgd_frame(b, encode("type_supported_query", mt=0x0804))
    b.run(500)
    assert [d for _, d in _answers(b, t - 1)] == [nak(6), nak(6)]
    assert t2 > t


def test_nak07_on_unsupported_opcode():
    b = Bench().up()
    t = _sgd_frame(b, encode("power_mode", mode=1))
    b.run(500)
    _sgd_frame(b, encode("setpoint"))  # an Intermediate Get the UCM has no answer for
    b.run(500)
    _sgd_frame(b, encode("shed", duration=3))  # a UCM->SGD Basic opcode
    b.run(500)
    assert [d for _, d in _answers(b, t - 1)] == [nak(7)] * 3


def test_unsupported_basic_policy_app_nak():
    b = Bench(unsupported_basic=0).up()
    t = _sgd_frame(b, encode("shed", duration=3))
    b.run(1000)
    got = [d for tt, d in b.sgd.got if tt > t]
    assert got == [ACK, encode("app_nak", reason=1)]


def test_never_answers_ack_or_nak():
    b = Bench().up()
    t = _sgd_frame(b, ACK)
    b.run(300)
    _sgd_frame(b, nak(3))
    b.run(300)
    assert _answers(b, t - 1) == []
    assert b.e.c["unexpected_acks"] == 2


def test_app_reply_at_least_t_ar_after_our_ack():
    b = Bench().up()
    t = _sgd_frame(b, h("08 01 00 02 11 01 D9 5E"))  # customer override on
    b.run(1000)
    got = [(tt, d) for tt, d in b.sgd.got if tt > t]
    assert [d for _, d in got] == [ACK, h("08 01 00 02 03 11 E3 52")]
    ack_end = got[0][0]
    reply_start = got[1][0] - wire_ms(8)
    assert reply_start - ack_end >= 100, (ack_end, reply_start)
    assert b.e.override is True


def test_max_payload_reply_has_its_own_delay():
    b = Bench(max_payload_reply_ms=1000).up()
    t = _sgd_frame(b, h("08 03 00 02 18 00 BA 75"))
    b.run(2000)
    got = [(tt, d) for tt, d in b.sgd.got if tt > t]
    assert [d for _, d in got] == [ACK, encode("max_payload", code=7)]
    assert got[1][0] - wire_ms(8) - got[0][0] >= 1000
    assert Settings().max_payload_code >= 7  # at least 256 bytes (section 2.6)


def test_requests_one_at_a_time_in_order():
    b = Bench().up()
    b.sgd.reply_ms = 400
    t1 = b.submit("shed", duration_s=600)
    t2 = b.submit("load_up", duration_s=600)
    b.wait(t2)
    fr = b.sgd.frames()
    assert fr[0] == encode("shed", duration=17) and fr[1] == encode("load_up", duration=17)
    sent2 = [t for t, d in b.sgd.got if d == fr[1]][0]
    acked1 = [t for t, d in b.sgd.sent if d == encode("app_ack", opcode=1)][0]
    assert sent2 > acked1  # the second waited for the first's App ACK
    assert t1.result == "ack" and t2.result == "ack"


def test_three_attempts_500ms_apart_without_ack():
    b = Bench().up()
    b.sgd.silent = True
    tx = b.submit("shed", duration_s=60)
    b.wait(tx)
    times = [t for t, d in b.sgd.got if d == tx.frame]
    assert len(times) == 3 and tx.result == "no_ack" and tx.attempts == 3
    assert times[1] - times[0] >= 500 and times[2] - times[1] >= 500
    assert b.e.c["retries"] == 2 and b.e.c["ack_timeouts"] == 3


def test_ack_wait_is_200ms():
    b = Bench(max_attempts=1).up()
    b.sgd.ack_ms = 230  # too late
    tx = b.submit("end")
    b.wait(tx)
    assert tx.result == "no_ack"
    b2 = Bench(max_attempts=1).up()
    b2.sgd.ack_ms = 150
    tx = b2.submit("end")
    b2.wait(tx)
    assert tx.result == "ack"


def test_no_retry_after_nak07_or_06():
    for code in (6, 7):
        b = Bench().up()
        b.sgd.naks = [code]
        tx = b.submit("end")
        b.wait(tx)
        assert tx.result == "link_nak" and tx.attempts == 1, (code, tx.result)
        assert b.e.result(tx)["reason"] == ("unsupported_message_type" if code == 6 else "request_not_supported")


def test_retry_after_nak03():
    b = Bench().up()
    b.sgd.naks = [3]
    tx = b.submit("end")
    b.wait(tx)
    assert tx.result == "ack" and tx.attempts == 2


def test_reply_timeout_3s():
    b = Bench().up()
    b.sgd.no_reply = True
    tx = b.submit("shed")
    b.wait(tx)
    assert tx.result == "timeout" and tx.attempts == 1
    ack_t = [t for t, d in b.sgd.sent if d == ACK][-1]
    assert b.now - ack_t >= 3000
    assert b.e.c["reply_timeouts"] == 1


def test_hold_after_sgd_initiated_frame():
    b = Bench(hold_after_sgd_ms=600).up()
    t = _sgd_frame(b, h("08 01 00 02 13 00 D5 61"))
    b.run(5)
    tx = b.submit("end")
    b.wait(tx)
    sent = [tt for tt, d in b.sgd.got if d == tx.frame][0] - wire_ms(8)
    assert sent - t >= 600, sent - t


def test_startup_sequence():
    b = Bench()
    assert b.e.status(0)["link"]["state"] == "down"
    b.run(20000, lambda: b.e.state == "up")
    expect = [
        "08 01 00 00 7E CD",
        "08 02 00 00 7A D0",
        "08 03 00 00 76 D3",
        "08 03 00 02 18 00 BA 75",
        "08 01 00 02 0E 01 E2 58",
        "08 01 00 02 12 00 D8 5F",
        "08 02 00 02 01 01 04 43",
        "08 02 00 02 06 00 F6 4C",
    ]
    assert b.sgd.frames() == [h(x) for x in expect]
    st = b.e.status(b.now)
    assert st["link"]["peer_max_payload"] == 64
    assert st["link"]["peer_types"] == {"basic_dr": True, "intermediate_dr": True, "data_link": True}
    assert b.e.info["device_type"] == 3 and b.e.energy[1]["cumulative"] == 12011


def test_negotiating_state_while_sequence_runs():
    b = Bench()
    b.run(20000, lambda: b.e.state == "negotiating")
    assert b.e.state == "negotiating"


def test_startup_without_intermediate_or_datalink():
    s = Sgd()
    s.types = (0x0801,)
    b = Bench(s)
    b.run(20000, lambda: b.e.state == "up")
    fr = b.sgd.frames()
    assert h("08 03 00 02 18 00 BA 75") not in fr and h("08 02 00 02 01 01 04 43") not in fr
    assert b.e.link.peer_types == {0x0801: True, 0x0802: False, 0x0803: False}
    tx = b.submit("refresh_info")
    assert tx.done and tx.result == "unsupported"  # type NAKed 06: never sent


def test_never_larger_than_peer_max_payload():
    s = Sgd()
    s.max_code = 1  # 4 bytes
    b = Bench(s).up()
    tx = b.submit("advanced_load_up", duration_min=60, value=5, units="100Wh")  # payload 7
    assert tx.done and tx.result == "unsupported" and "max payload" in tx.reason
    s2 = Sgd()
    b2 = Bench(s2).up()  # 64 bytes
    tx = b2.submit("advanced_load_up", duration_min=60, value=5, units="100Wh")
    b2.wait(tx)
    assert tx.result == "reply"
    assert h("08 02 00 07 0C 00 00 3C 00 05 02 A9 4B") in b2.sgd.frames()


def test_peer_max_payload_defaults_to_2():
    s = Sgd()
    s.types = (0x0801, 0x0802)  # no data-link: nobody negotiates
    b = Bench(s).up()
    assert b.e.link.peer_max == 2
    tx = b.submit("refresh_info")  # payload 2 fits
    b.wait(tx)
    assert tx.result == "reply"
    tx = b.submit("set_setpoint", setpoint=125, units="F")
    assert tx.result == "unsupported"


def test_idle_15min_returns_to_defaults_and_renegotiates():
    b = Bench(heartbeat_ms=3600000, poll_state_ms=0, poll_energy_ms=0).up()
    b.sgd.silent = True
    b.run(15 * 60000 + 1000, lambda: b.e.c["idle_resets"] > 0)
    assert b.e.c["idle_resets"] == 1
    assert b.e.link.peer_max == 2 and b.e.link.peer_types == {} or b.e.state != "up"
    b.sgd.silent = False
    b.run(60000, lambda: b.e.state == "up")
    assert b.e.state == "up" and b.e.link.peer_max == 64


def test_sgd_discovery_bursts_acked_forever():
    b = Bench().up()
    burst = [encode("type_supported_query", mt=m) for m in (0x0801, 0x0802, 0x0803)]
    burst.append(h("08 03 00 02 18 00 BA 75"))
    for k in range(12):  # every 22 s for a while, then 3 hours later
        b.run(22000 if k < 11 else 3 * 3600000)
        start = b.now
        for f in burst:
            _sgd_frame(b, f)
            b.run(1000)
        b.run(1500)
        got = [d for t, d in b.sgd.got if t > start]
        assert got.count(ACK) >= 4 and encode("max_payload", code=7) in got, k
    assert b.e.state == "up" and b.e.c["mtsq_in"] == 36


def test_bad_arguments_raise_value_error():
    b = Bench().up()
    for kind, args in (
        ("shed", {"duration_s": -1}),
        ("shed", {"duration_s": True}),
        ("shed", {"durationS": 5}),
        ("power_level", {"percent": 101}),
        ("power_level", {}),
        ("grid_guidance", {"guidance": 3}),
        ("advanced_load_up", {"duration_min": 1, "value": 1, "units": 4}),
        ("nonsense", {}),
    ):
        e = raises(ValueError, b.submit, kind, **args)
        assert ":" in str(e), e
    assert b.sgd.frames() == []
