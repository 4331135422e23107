# The 9-bit bus personalities end to end: the firmware process (host board) reading a
# PARMRK capture stream from a pseudo-terminal fed by the simulated 9-bit heater
# (tools/ninebit_sim.py), over real HTTP: frames and words in the API, a word change
# in the change log, corrupted frames reported, sending refused while listening, the
# CTA-2045 commands answering 503, and the auto personality choosing each bus.
import pytest

from rig import Rig

TOKEN = "e2e-ninebit-token"


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    r = Rig(str(tmp_path_factory.mktemp("nb") / "fw.log"), TOKEN, bus="ninebit-listen", heater="ninebit")
    yield r
    r.close()


def frames(rig, n=50):
    return rig.api("GET", "/api/ninebit/frames?n=%d" % n)[1]["frames"]


def test_status_names_the_bus_and_frames_arrive(rig):
    rig.wait(lambda: rig.status()["bus"]["ninebit"]["frames"] >= 12, what="9-bit frames")
    s = rig.status()
    assert s["bus"]["setting"] == "ninebit-listen" and s["bus"]["active"] == "ninebit-listen"
    assert s["bus"]["ninebit"]["transmit"] is False and s["bus"]["ninebit"]["mode"] == "flagged"
    assert s["link"]["state"] == "down"  # no CTA-2045 on this bus
    got = frames(rig, 6)
    assert len(got) == 6 and all(f["checksum_ok"] and f["dir"] == "rx" for f in got)
    kinds = {(f["kind"], f.get("node"), f.get("block")) for f in got}
    assert kinds == {
        ("poll", 16, None),
        ("poll", 12, None),
        ("poll", 2, None),
        ("block", None, 0),
        ("block", None, 8),
        ("block", None, 13),
    }
    b0 = [f for f in got if f.get("block") == 0][0]
    assert b0["words"][1] == 49 * 512


def test_a_setpoint_change_shows_in_the_change_log(rig):
    st, p = rig.api("GET", "/api/ninebit/params")
    assert st == 200 and "hypothesis" in p["note"]
    sp = [r for r in p["params"] if r["block"] == 13 and r["index"] == 4][0]
    assert sp["u16"] == 120 and sp["raw"] == "0078"
    t0 = p["now_ms"]
    rig.do(rig.sim.command, "setpoint 125")
    rig.wait(lambda: rig.api("GET", "/api/ninebit/params?since=%d" % t0)[1]["changes"], what="change")
    ch = rig.api("GET", "/api/ninebit/params?since=%d" % t0)[1]
    moved = {(c["block"], c["index"]) for c in ch["changes"]}
    assert moved == {(8, 2), (13, 4), (13, 5)}
    c = [c for c in ch["changes"] if (c["block"], c["index"]) == (13, 4)][0]
    assert c["old"] == 120 and c["u16"] == 125 and c["changed_at"] > t0
    assert {(r["block"], r["index"]) for r in ch["params"]} == moved  # rows changed since t0


def test_corrupted_frames_are_reported(rig):
    before = rig.status()["bus"]["ninebit"]["errors"]["checksum"]
    rig.do(rig.sim.command, "corrupt 2")
    rig.wait(lambda: rig.status()["bus"]["ninebit"]["errors"]["checksum"] >= before + 2, what="checksum errors")
    bad = [f for f in frames(rig, 100) if f.get("error")]
    assert bad and bad[-1]["error"] == "checksum" and not bad[-1]["checksum_ok"]


def test_sending_is_refused_while_listening_and_cta2045_commands_are_503(rig):
    st, r = rig.api("POST", "/api/ninebit/send", {"hex": "90 00 90"})
    assert st == 409 and "personality" in r["error"]
    st, r = rig.api("POST", "/api/ninebit/send", {"hex": "90 00 90"}, token=None)
    assert st == 401
    for body, field in (
        ({"hex": "zz"}, "hex"),
        ({"hex": "90"}, "hex"),
        ({"hex": "900090", "force": 1}, "force"),
        ({}, "hex"),
        ({"hex": "900090", "x": 1}, "x"),
    ):
        st, r = rig.api("POST", "/api/ninebit/send", body)
        assert st == 400 and r["field"] == field, (body, r)
    st, r = rig.api("POST", "/api/dr/shed", {"duration_s": 60})
    assert st == 503
    st, r = rig.api("GET", "/api/ninebit/frames?n=0")
    assert st == 400 and r["field"] == "n"
    st, r = rig.api("GET", "/api/ninebit/params?since=-1")
    assert st == 400 and r["field"] == "since"


@pytest.mark.parametrize("heater,active", [("ninebit", "ninebit-listen"), ("cta2045", "cta2045")])
def test_auto_picks_the_bus_it_hears(tmp_path, heater, active):
    r = Rig(str(tmp_path / "fw.log"), TOKEN, bus="auto", heater=heater)
    try:
        s = r.wait(lambda: r.status(), timeout=30, what="the API")
        assert s["bus"]["setting"] == "auto" and s["bus"]["active"] == active
        if active == "cta2045":
            assert "no valid 9-bit frames" in s["bus"]["why"]
            r.wait_up()
        else:
            assert "valid flagged frames" in s["bus"]["why"]
            st, _ = r.api("GET", "/api/ninebit/frames")
            assert st == 200
    finally:
        r.close()


def test_the_9bit_api_answers_409_on_cta2045(tmp_path):
    r = Rig(str(tmp_path / "fw.log"), TOKEN)
    try:
        r.wait_up()
        for path in ("/api/ninebit/frames", "/api/ninebit/params"):
            st, body = r.api("GET", path)
            assert st == 409 and "not active (bus: cta2045)" in body["error"]
        assert r.status()["bus"] == {"setting": "cta2045", "active": "cta2045", "why": "configured"}
    finally:
        r.close()
