# The HTTP API (firmware/ucm_api.py) against a fake engine: every endpoint, the engine
# Result -> HTTP status mapping, the token, input validation, error bodies; then a real
# server on 127.0.0.1 fed malformed and slow requests.
import asyncio
import json
import os
import socket
import sys
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from microdot.test_client import TestClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware"))
import ucm_api as api  # noqa: E402
import ucm_api_cmd as api_cmd  # noqa: E402
from ucm import commands  # noqa: E402

TOKEN = "t0ken-Secret-42"
DR_KINDS = ("shed", "load_up", "critical_peak", "grid_emergency")
RESULTS = {  # engine result -> HTTP status
    "ack": 200,
    "reply": 200,
    "app_nak": 409,
    "rc_error": 409,
    "link_nak": 409,
    "unsupported": 409,
    "no_ack": 504,
    "timeout": 504,
    "link_down": 503,
}
REASONS = {
    "app_nak": "customer override in effect",
    "rc_error": "not supported",
    "link_nak": "unsupported message type",
    "unsupported": "intermediate_dr not supported",
}
STATUS = {
    "uptime_s": 12,
    "link": {
        "state": "up",
        "peer_types": {"basic_dr": True, "intermediate_dr": True, "data_link": None},
        "peer_max_payload": 256,
        "last_rx_age_s": 0.5,
    },
    "sgd": {
        "op_state": {"code": 1, "name": "running_normal", "age_s": 3.0},
        "override": False,
        "info_age_s": None,
        "energy_age_s": None,
    },
    "event": None,
    "last_app_nak": None,
    "upstream": True,
    "counters": {"tx": 3, "rx": 4},
}


class FakeUcm:
    """The engine as the API sees it (the lib/ucm runner contract): records every call,
    answers with scripted Results, and raises ValueError("field: message") for bad
    arguments, as the engine does before queueing anything."""

    def __init__(self):
        self.calls = []
        self.script = {}  # kind -> result name, a Result dict, or an exception to raise
        self.info_data = None
        self.energy_data = None
        self.frames_asked = []
        self.status_error = None

    def status(self):
        if self.status_error:
            raise self.status_error
        return STATUS

    def info(self):
        return self.info_data

    def energy(self):
        return self.energy_data

    def frames(self, n):
        self.frames_asked.append(n)
        return [
            {"dir": "tx", "t_ms": i, "hex": "080100020111e94e", "msg": None, "note": None} for i in range(min(n, 3))
        ]

    def log_rows(self, n):
        return iter(self.frames(n))

    def set_upstream(self, ok):
        pass

    @staticmethod
    def result(kind, name):
        r = {"result": name, "request": kind, "attempts": 1}
        if name != "link_down":
            r["sent"] = "080100020111e94e"
        if name in REASONS:
            r["reason"] = REASONS[name]
        if name == "reply":
            r["reply"] = {"name": kind, "fields": {"rc": 0}}
        if kind in DR_KINDS:
            r["duration_code"] = 17
            r["encoded_s"] = 578
        return r

    @staticmethod
    def check(kind, args):
        # the engine's own argument check (Engine.submit runs the same)
        return commands.check(kind, args)

    async def call(self, kind, args=None, **kw):
        args = self.check(kind, kw if args is None else args)  # ValueError before anything is queued
        self.calls.append((kind, args))  # what reached the engine's queue, checked
        await asyncio.sleep(getattr(self, "delay_s", 0))
        r = self.script.get(kind, "ack")
        if isinstance(r, BaseException):
            raise r
        if isinstance(r, str):
            r = self.result(kind, r)
        return r


class Env:
    def __init__(self, **kw):
        self.ucm = FakeUcm()
        self.logs = []
        self.app = api.make_app(self.ucm, TOKEN, log=self.logs.append, **kw)

    def request(self, method, path, body=None, token=TOKEN, headers=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        return asyncio.run(TestClient(self.app, host="127.0.0.1").request(method, path, headers=h, body=body))

    def get(self, path, **kw):
        return self.request("GET", path, token=kw.pop("token", None), **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)


@pytest.fixture
def env():
    return Env()


def assert_json(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json is not None
    return r.json


def assert_bad(r, field, error=None):
    body = assert_json(r, 400)
    assert body["field"] == field, body
    if error:
        assert error in body["error"], body
    return body


# --- GET endpoints ----------------------------------------------------------------------


def test_status(env):
    assert assert_json(env.get("/api/status"), 200) == STATUS


def test_head_status_has_no_body(env):
    r = env.request("HEAD", "/api/status", token=None)
    assert r.status_code == 200 and r.body is None


@pytest.mark.parametrize("name", ["info", "energy"])
def test_cached_none_is_200_null(env, name):
    assert assert_json(env.get("/api/sgd/" + name), 200) == {name: None}
    assert env.ucm.calls == []


@pytest.mark.parametrize("name", ["info", "energy"])
def test_cached_value(env, name):
    data = {"records": [{"code": 0, "value": 1200}], "age_s": 4.0} if name == "energy" else {"device_type": 1}
    setattr(env.ucm, name + "_data", data)
    assert assert_json(env.get("/api/sgd/%s?refresh=0" % name), 200) == {name: data}
    assert env.ucm.calls == []


@pytest.mark.parametrize("flag", ["1", "true"])
@pytest.mark.parametrize("name", ["info", "energy"])
def test_cached_refresh(env, name, flag):
    setattr(env.ucm, name + "_data", {"x": 1})
    body = assert_json(env.get("/api/sgd/%s?refresh=%s" % (name, flag)), 200)
    assert env.ucm.calls == [("refresh_" + name, {})]
    assert body == {name: {"x": 1}, "refresh": FakeUcm.result("refresh_" + name, "ack")}


@pytest.mark.parametrize("name", ["info", "energy"])
def test_cached_refresh_bad_flag(env, name):
    assert_bad(env.get("/api/sgd/%s?refresh=yes" % name), "refresh")
    assert env.ucm.calls == []


def test_log_default_and_bounds(env):
    body = assert_json(env.get("/api/log"), 200)
    assert len(body["frames"]) == 3 and body["frames"][0]["hex"] == "080100020111e94e"
    for n in ("1", "200", "050"):
        assert_json(env.get("/api/log?n=" + n), 200)
    assert env.ucm.frames_asked == [50, 1, 200, 50]


@pytest.mark.parametrize(
    "n", ["0", "201", "-1", "abc", "", "1.5", "1e2", "+5", "%D9%A3", "%C2%B2", "99999999999999999999", "0x10"]
)
def test_log_bad_n(env, n):
    assert_bad(env.get("/api/log?n=" + n), "n")
    assert env.ucm.frames_asked == []


def test_index_builtin(env):
    r = env.get("/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    for path in (
        "/api/status",
        "/api/sgd/info",
        "/api/log",
        "/api/dr/shed",
        "/api/dr/advanced_load_up",
        "/api/sgd/setpoint",
    ):
        assert path in r.text


@pytest.mark.parametrize("page", ["<h1>mine</h1>", b"<h1>mine</h1>"])
def test_index_page(page):
    e = Env(page=page)
    r = e.get("/")
    assert r.status_code == 200 and r.text == "<h1>mine</h1>"
    assert r.headers["Content-Type"].startswith("text/html")


# --- commands: request -> engine call -----------------------------------------------------

COMMANDS = [
    # method, path, body, engine kind, engine args
    ("POST", "/api/dr/shed", {"duration_s": 600}, "shed", {"duration_s": 600}),
    ("POST", "/api/dr/shed", {}, "shed", {"duration_s": None}),
    ("POST", "/api/dr/shed", None, "shed", {"duration_s": None}),
    ("POST", "/api/dr/shed", {"duration_s": None}, "shed", {"duration_s": None}),
    ("POST", "/api/dr/shed", {"duration_s": 0}, "shed", {"duration_s": 0}),
    ("POST", "/api/dr/shed", {"duration_s": 2**31 - 1}, "shed", {"duration_s": 2**31 - 1}),
    ("POST", "/api/dr/load_up", {"duration_s": 3600}, "load_up", {"duration_s": 3600}),
    ("POST", "/api/dr/critical_peak", {"duration_s": 7200}, "critical_peak", {"duration_s": 7200}),
    ("POST", "/api/dr/grid_emergency", {}, "grid_emergency", {"duration_s": None}),
    ("POST", "/api/dr/end", None, "end", {}),
    ("POST", "/api/dr/end", {}, "end", {}),
    ("POST", "/api/dr/power_level", {"percent": 50}, "power_level", {"percent": 50, "direction": 0}),
    (
        "POST",
        "/api/dr/power_level",
        {"percent": 12.5, "direction": "produce"},
        "power_level",
        {"percent": 12.5, "direction": 1},
    ),
    (
        "POST",
        "/api/dr/power_level",
        {"percent": 0, "direction": "absorb"},
        "power_level",
        {"percent": 0, "direction": 0},
    ),
    ("POST", "/api/dr/price", {"relative": 1.5}, "price", {"relative": 1.5}),
    ("POST", "/api/dr/price", {"relative": 0}, "price", {"relative": 0}),
    ("POST", "/api/dr/price", {"relative": 9.79}, "price", {"relative": 9.79}),
    ("POST", "/api/dr/grid_guidance", {"guidance": "bad"}, "grid_guidance", {"guidance": 0}),
    ("POST", "/api/dr/grid_guidance", {"guidance": "neutral"}, "grid_guidance", {"guidance": 1}),
    ("POST", "/api/dr/grid_guidance", {"guidance": "good"}, "grid_guidance", {"guidance": 2}),
    (
        "POST",
        "/api/dr/advanced_load_up",
        {"duration_min": 60, "value": 5, "units": "100Wh"},
        "advanced_load_up",
        {"duration_min": 60, "value": 5, "units": 2},
    ),
    (
        "POST",
        "/api/dr/advanced_load_up",
        {"duration_min": 0, "value": 65535, "units": "Wh"},
        "advanced_load_up",
        {"duration_min": 0, "value": 65535, "units": 0},
    ),
    (
        "POST",
        "/api/dr/advanced_load_up",
        {"duration_min": 65535, "value": 0, "units": "kWh"},
        "advanced_load_up",
        {"duration_min": 65535, "value": 0, "units": 3},
    ),
    (
        "POST",
        "/api/dr/advanced_load_up",
        {"duration_min": 1, "value": 1, "units": "10Wh"},
        "advanced_load_up",
        {"duration_min": 1, "value": 1, "units": 1},
    ),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 125, "units": "F"}, "set_setpoint", {"setpoint": 125, "units": 0}),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 50, "units": "C"}, "set_setpoint", {"setpoint": 50, "units": 1}),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 32, "units": "F"}, "set_setpoint", {"setpoint": 32, "units": 0}),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 212, "units": "F"}, "set_setpoint", {"setpoint": 212, "units": 0}),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 0, "units": "C"}, "set_setpoint", {"setpoint": 0, "units": 1}),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 100, "units": "C"}, "set_setpoint", {"setpoint": 100, "units": 1}),
    ("GET", "/api/sgd/setpoint", None, "get_setpoint", {}),
]


@pytest.mark.parametrize("method,path,body,kind,args", COMMANDS)
def test_command(env, method, path, body, kind, args):
    r = env.request(method, path, body)
    assert assert_json(r, 200) == FakeUcm.result(kind, "ack")
    assert env.ucm.calls == [(kind, args)]


def test_dr_result_carries_duration(env):
    body = assert_json(env.post("/api/dr/shed", {"duration_s": 600}), 200)
    assert body["duration_code"] == 17 and body["encoded_s"] == 578


def test_get_setpoint_needs_no_token(env):
    env.ucm.script["get_setpoint"] = "reply"
    body = assert_json(env.get("/api/sgd/setpoint"), 200)
    assert body["result"] == "reply" and body["reply"]["fields"] == {"rc": 0}


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "Application/JSON", " application/json ;x=1"])
def test_accepted_content_types(env, ctype):
    headers = {"Authorization": "Bearer " + TOKEN}
    if ctype is not None:
        headers["Content-Type"] = ctype
    r = asyncio.run(
        TestClient(env.app, host="127.0.0.1").request(
            "POST", "/api/dr/shed", body='{"duration_s": 60}', headers=headers
        )
    )
    assert_json(r, 200)
    assert env.ucm.calls == [("shed", {"duration_s": 60})]


@pytest.mark.parametrize(
    "ctype",
    [
        "text/plain",
        "text/plain\x00",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",  # curl -d, urllib, an HTML form
        None,
        "",  # a script's fetch() of a Blob: no preflight either
        "application/jsonp",
        "application/xml",
        "garbage",
    ],
)
def test_other_content_types_415(env, ctype):
    headers = {"Authorization": "Bearer " + TOKEN}
    if ctype is not None:
        headers["Content-Type"] = ctype
    r = asyncio.run(
        TestClient(env.app, host="127.0.0.1").request(
            "POST", "/api/dr/shed", body='{"duration_s": 60}', headers=headers
        )
    )
    assert assert_json(r, 415) == {"error": "Content-Type must be application/json", "field": None}
    assert env.ucm.calls == []


def test_empty_body_needs_no_content_type(env):
    r = env.request("POST", "/api/dr/end", "", headers={"Content-Type": "text/plain"})
    assert_json(r, 200)


def test_exact_body_limit_is_accepted(env):
    body = '{"duration_s": 60}'
    body += " " * (api.MAX_BODY - len(body))
    assert_json(env.post("/api/dr/shed", body), 200)


# --- engine Result -> HTTP status -----------------------------------------------------------

MAPPED = [
    ("POST", "/api/dr/shed", {"duration_s": 60}, "shed"),
    ("POST", "/api/dr/end", {}, "end"),
    ("POST", "/api/dr/power_level", {"percent": 10}, "power_level"),
    ("POST", "/api/dr/price", {"relative": 2}, "price"),
    ("POST", "/api/dr/grid_guidance", {"guidance": "good"}, "grid_guidance"),
    ("POST", "/api/dr/advanced_load_up", {"duration_min": 60, "value": 5, "units": "kWh"}, "advanced_load_up"),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 120, "units": "F"}, "set_setpoint"),
    ("GET", "/api/sgd/setpoint", None, "get_setpoint"),
    ("GET", "/api/sgd/info?refresh=1", None, "refresh_info"),
    ("GET", "/api/sgd/energy?refresh=1", None, "refresh_energy"),
]


@pytest.mark.parametrize("result,status", sorted(RESULTS.items()))
@pytest.mark.parametrize("method,path,body,kind", MAPPED, ids=[m[1] + "-" + m[0] for m in MAPPED])
def test_result_mapping(env, method, path, body, kind, result, status):
    env.ucm.script[kind] = result
    r = env.request(method, path, body)
    got = assert_json(r, status)
    expected = FakeUcm.result(kind, result)
    if status == 200:
        if kind.startswith("refresh_"):
            assert got["refresh"] == expected
        else:
            assert got == expected
    else:
        assert got.pop("error") == result
        assert got == expected  # the engine's Result as given, reason included
        if result in REASONS:
            assert got["reason"] == REASONS[result]
    assert [c[0] for c in env.ucm.calls] == [kind]


def test_unknown_engine_result_is_500(env):
    env.ucm.script["end"] = {"result": "maybe"}
    assert assert_json(env.post("/api/dr/end"), 500) == {"error": "internal error"}
    assert len(env.logs) == 1 and "maybe" in env.logs[0]


def test_engine_value_error_is_400(env):
    env.ucm.script["shed"] = ValueError("duration_s: too long for this SGD")
    body = assert_bad(env.post("/api/dr/shed", {"duration_s": 60}), "duration_s")
    assert body["error"] == "too long for this SGD"


def test_engine_value_error_names_the_field(env):
    env.ucm.script["power_level"] = ValueError("direction: not supported")
    assert_bad(env.post("/api/dr/power_level", {"percent": 5, "direction": "produce"}), "direction", "not supported")


def test_api_errors_are_the_engines_own(env):
    # one check for every entry point: the 400 says what Engine.submit would raise
    for path, body in (("/api/dr/price", {"relative": 9.8}), ("/api/dr/advanced_load_up", dict(ALU, units="MWh"))):
        with pytest.raises(ValueError) as e:
            commands.check(path.rsplit("/", 1)[1], body)
        field, why = str(e.value).split(": ", 1)
        assert assert_bad(env.post(path, body), field) == {"error": why, "field": field}
    assert env.ucm.calls == []


def test_engine_value_error_without_field(env):
    env.ucm.script["end"] = ValueError("no event")
    body = assert_bad(env.post("/api/dr/end"), None)
    assert body["error"] == "no event"


def test_fake_engine_rejects_bad_args(env):
    # the fake runs the engine's own check (ucm.commands), so the API tests see its rules
    env.ucm.script["end"] = "ack"
    with pytest.raises(ValueError):
        asyncio.run(env.ucm.call("shed", duration_s=True))
    with pytest.raises(ValueError):
        asyncio.run(env.ucm.call("power_level", {"percent": 5, "produce": True}))
    assert env.ucm.calls == []


def test_engine_value_error_on_refresh(env):
    env.ucm.script["refresh_info"] = ValueError("kind: busy")
    assert_bad(env.get("/api/sgd/info?refresh=1"), "kind", "busy")


# --- authorization ----------------------------------------------------------------------

MUTATING = [(m, p, b) for m, p, b, _, _ in COMMANDS if m != "GET"]
BAD_AUTH = [
    None,  # no header
    {"Authorization": "Bearer wrong"},
    {"Authorization": "Bearer " + TOKEN[:-1]},
    {"Authorization": "Bearer " + TOKEN + "x"},
    {"Authorization": "Bearer " + TOKEN.upper()},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic " + TOKEN},
    {"Authorization": TOKEN},
    {"Authorization": ""},
    {"Authorization": "Bearer " + "x" * 1500},
]


def assert_401(r):
    assert assert_json(r, 401) == {"error": "unauthorized"}
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert TOKEN not in r.text


@pytest.mark.parametrize("method,path,body", MUTATING)
def test_mutating_without_token(env, method, path, body):
    assert_401(env.request(method, path, body, token=None))
    assert env.ucm.calls == []


@pytest.mark.parametrize("headers", BAD_AUTH)
def test_bad_tokens(env, headers):
    assert_401(env.request("POST", "/api/dr/shed", {"duration_s": 60}, token=None, headers=headers))
    assert env.ucm.calls == []


@pytest.mark.parametrize("header", ["Bearer " + TOKEN, "bearer " + TOKEN, "BEARER  " + TOKEN + " "])
def test_good_token_forms(env, header):
    r = env.request("POST", "/api/dr/end", token=None, headers={"Authorization": header})
    assert_json(r, 200)


@pytest.mark.parametrize(
    "method,path",
    [
        ("PATCH", "/api/dr/shed"),
        ("DELETE", "/api/status"),
        ("POST", "/nowhere"),
        ("DELETE", "/nowhere"),
        ("PUT", "/api/status"),
        ("BREW", "/api/status"),
    ],
)
def test_every_state_changing_method_needs_token(env, method, path):
    assert_401(env.request(method, path, token=None))


@pytest.mark.parametrize(
    "path", ["/", "/api/status", "/api/sgd/info", "/api/sgd/energy", "/api/sgd/setpoint", "/api/log?n=5"]
)
def test_gets_need_no_token(env, path):
    assert env.get(path).status_code == 200


def test_constant_time_compare():
    t = b"abcdef"
    assert api._same(b"abcdef", t)
    for other in (b"", b"abcde", b"abcdefg", b"abcdeF", b"bbcdef", b"abcdefabcdef"):
        assert not api._same(other, t)


@pytest.mark.parametrize("token", [None, b"bytes", " padded", 123])
def test_make_app_rejects_bad_token(token):
    with pytest.raises(ValueError):
        api.make_app(FakeUcm(), token)


def test_make_app_rejects_bad_timeout():
    with pytest.raises(ValueError):
        api.make_app(FakeUcm(), TOKEN, request_timeout_s=0)


# --- invalid input: 400 naming the field ------------------------------------------------------

NAN, INF = float("nan"), float("inf")
DURATION_BAD = ["600", True, False, 1.5, 600.0, -1, 2**31, 2**31 + 1, [600], {"s": 1}, INF]
ALU = {"duration_min": 60, "value": 5, "units": "Wh"}
INT16_BAD = [-1, 65536, "60", True, 60.0, None, [1], NAN]
FIELD_CASES = [
    # method, path, valid body, field, bad values
    ("POST", "/api/dr/shed", {}, "duration_s", DURATION_BAD),
    ("POST", "/api/dr/load_up", {}, "duration_s", DURATION_BAD),
    ("POST", "/api/dr/critical_peak", {}, "duration_s", DURATION_BAD),
    ("POST", "/api/dr/grid_emergency", {}, "duration_s", DURATION_BAD),
    (
        "POST",
        "/api/dr/power_level",
        {"percent": 50},
        "percent",
        ["50", True, False, -1, -0.001, 100.001, 1000, None, [50], NAN, INF, -INF],
    ),
    ("POST", "/api/dr/power_level", {"percent": 50}, "direction", ["up", "Absorb", "", 1, True, None]),
    ("POST", "/api/dr/price", {"relative": 1}, "relative", ["1", True, -0.5, 9.8, 10, 10.5, 11, None, NAN, INF]),
    ("POST", "/api/dr/grid_guidance", {"guidance": "good"}, "guidance", ["Good", "great", 2, True, None, ["good"]]),
    ("POST", "/api/dr/advanced_load_up", ALU, "duration_min", INT16_BAD),
    ("POST", "/api/dr/advanced_load_up", ALU, "value", INT16_BAD),
    ("POST", "/api/dr/advanced_load_up", ALU, "units", ["MWh", "wh", "1 kWh", 2, True, None]),
    (
        "PUT",
        "/api/sgd/setpoint",
        {"setpoint": 125, "units": "F"},
        "setpoint",
        ["125", True, 125.0, 213, 31, -40, 300, None, NAN],
    ),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 50, "units": "C"}, "setpoint", [101, -1, 150, 50.5]),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 50, "units": "C"}, "units", ["K", "f", "c", 0, 1, True, None]),
]
WRONG_VALUES = [(m, p, dict(ok, **{f: v}), f) for m, p, ok, f, vals in FIELD_CASES for v in vals]
ENDPOINTS = [("POST", "/api/dr/" + name) for name in api_cmd.DR] + [("PUT", "/api/sgd/setpoint")]
VALID = {p: ok for m, p, ok, f, v in FIELD_CASES}
VALID["/api/dr/end"] = {}
REQUIRED = [
    ("POST", "/api/dr/power_level", {}, "percent"),
    ("POST", "/api/dr/price", {}, "relative"),
    ("POST", "/api/dr/grid_guidance", {}, "guidance"),
    ("PUT", "/api/sgd/setpoint", {"units": "F"}, "setpoint"),
    ("PUT", "/api/sgd/setpoint", {"setpoint": 120}, "units"),
    ("PUT", "/api/sgd/setpoint", None, "setpoint"),
]
REQUIRED += [("POST", "/api/dr/advanced_load_up", {k: v for k, v in ALU.items() if k != f}, f) for f in ALU]
REQUIRED += [("POST", "/api/dr/advanced_load_up", None, "duration_min")]


@pytest.mark.parametrize(
    "method,path,body,field",
    WRONG_VALUES,
    ids=["%s-%s=%r" % (p.rsplit("/", 1)[1], f, b[f]) for m, p, b, f in WRONG_VALUES],
)
def test_wrong_value(env, method, path, body, field):
    assert_bad(env.request(method, path, body), field)
    assert env.ucm.calls == []


@pytest.mark.parametrize("method,path,body,field", REQUIRED)
def test_missing_field(env, method, path, body, field):
    assert_bad(env.request(method, path, body), field, "missing")
    assert env.ucm.calls == []


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_unknown_field(env, method, path):
    body = dict(VALID[path], durration_s=60)
    assert assert_bad(env.request(method, path, body), "durration_s") == {
        "error": "unknown field",
        "field": "durration_s",
    }
    assert env.ucm.calls == []


BAD_BODIES = [b"{", b"{'duration_s': 1}", b"nul", b'{"a": 1} x', b"\xff\xfe{}", b"\x80", b"[" * 1500, b'{"a": "\xc3"}']
NOT_OBJECTS = [b"[]", b"1", b'"x"', b"null", b"true", b"[{}]"]


@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_body_not_json(env, method, path, body):
    assert assert_bad(env.request(method, path, body), None) == {"error": "body is not JSON", "field": None}
    assert env.ucm.calls == []


@pytest.mark.parametrize("body", NOT_OBJECTS)
@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_body_not_object(env, method, path, body):
    assert_bad(env.request(method, path, body), None, "object")
    assert env.ucm.calls == []


# --- 404, 405, 411, 413, 500 --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nowhere", "/api", "/api/status/", "/api/dr/bogus", "/api/dr", "//api/status"])
def test_404(env, path):
    assert assert_json(env.get(path), 404) == {"error": "not found"}
    assert assert_json(env.post(path, {}), 404) == {"error": "not found"}


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("GET", "/api/dr/shed", "POST"),
        ("PUT", "/api/dr/end", "POST"),
        ("POST", "/api/status", "GET"),
        ("DELETE", "/api/sgd/setpoint", "PUT"),
        ("PATCH", "/api/log", "GET"),
        ("POST", "/", "GET"),
    ],
)
def test_405(env, method, path, allow):
    r = env.request(method, path, {})
    assert assert_json(r, 405) == {"error": "method not allowed"}
    assert allow in r.headers["Allow"]
    assert env.ucm.calls == []


def test_411_transfer_encoding(env):
    r = env.post("/api/dr/end", headers={"Transfer-Encoding": "chunked"})
    assert "error" in assert_json(r, 411)
    assert env.ucm.calls == []


@pytest.mark.parametrize("size", [api.MAX_BODY + 1, 20000, 100000])
def test_413(env, size):
    body = '{"duration_s": 60%s}' % (" " * size)
    assert "error" in assert_json(env.post("/api/dr/shed", body), 413)
    assert env.ucm.calls == []


def test_413_needs_token_first(env):
    assert_401(env.post("/api/dr/shed", " " * 5000, token=None))


def test_500_no_traceback_no_token(env, capsys):
    env.ucm.status_error = RuntimeError("sensor exploded")
    r = env.get("/api/status")
    assert assert_json(r, 500) == {"error": "internal error"}
    assert "Traceback" not in r.text and TOKEN not in r.text and "exploded" not in r.text
    assert len(env.logs) == 1
    assert "RuntimeError" in env.logs[0] and "sensor exploded" in env.logs[0] and "/api/status" in env.logs[0]
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err  # only the log callable reports it


def test_500_from_engine_call(env):
    env.ucm.script["shed"] = KeyError("oops")
    r = env.post("/api/dr/shed", {"duration_s": 5})
    assert assert_json(r, 500) == {"error": "internal error"}
    assert "KeyError" in env.logs[0] and TOKEN not in r.text


def test_token_masked_in_log(env):
    env.ucm.status_error = RuntimeError("leaked " + TOKEN)
    env.get("/api/status")
    assert env.logs and all(TOKEN not in line for line in env.logs)


def test_token_never_in_any_response(env):
    hdr = {"Authorization": "Bearer " + TOKEN}
    for method, path, body in [
        ("POST", "/api/dr/shed", {"x": 1}),
        ("POST", "/nowhere", None),
        ("GET", "/api/status", None),
        ("POST", "/api/dr/shed", "{"),
    ]:
        r = env.request(method, path, body, token=None, headers=hdr)
        assert TOKEN not in r.text and all(TOKEN not in str(v) for v in r.headers.values())


# --- a real server on a socket ------------------------------------------------------------------


class Server:
    def __init__(self, timeout_s):
        self.ucm = FakeUcm()
        self.logs = []
        self.app = api.make_app(self.ucm, TOKEN, log=self.logs.append, request_timeout_s=timeout_s)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(api.serve(self.app, "127.0.0.1", 0),), daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 5
        while not (self.app.server and self.app.server.sockets):
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        self.port = self.app.server.sockets[0].getsockname()[1]

    def stop(self):
        self.loop.call_soon_threadsafe(self.app.shutdown)
        self.thread.join(3)
        if not self.thread.is_alive():
            self.loop.close()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def raw(self, data, shut=False, timeout=3.0):
        """Send data, read until the server closes: (status or None, body bytes)."""
        s = self.connect()
        try:
            try:
                s.sendall(data)
                if shut:
                    s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server answered and closed before taking everything
            return parse(read_all(s, timeout))
        finally:
            s.close()

    def get_status(self):
        return self.raw(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")


def read_all(s, timeout):
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data


def parse(data):
    if not data:
        return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.fixture(scope="module")
def server():
    srv = Server(0.5)
    yield srv
    srv.stop()


AUTH = ("Authorization: Bearer %s\r\n" % TOKEN).encode()


def post(path, body, extra=b""):
    return (
        b"POST "
        + path
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + AUTH
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


MALFORMED = [
    # id, bytes, half-close after sending, expected statuses
    ("garbage-line", b"GARBAGE\r\n\r\n", False, {400}),
    ("binary-junk", bytes(range(256)) * 2, True, {400}),
    ("nul-bytes", b"\x00" * 64 + b"\r\n\r\n", False, {400}),
    ("spaces-only-line", b"   \r\n\r\n", False, {400}),
    ("empty-request-line", b"\r\n\r\n", False, {400}),
    ("http09-style", b"GET /api/status\r\n\r\n", False, {400}),
    ("method-only", b"GET\r\n\r\n", False, {400}),
    ("too-many-parts", b"GET /api/status HTTP/1.1 extra\r\n\r\n", False, {400}),
    ("no-slash-in-version", b"GET /api/status HTTP1.1\r\n\r\n", False, {400}),
    ("non-utf8-path", b"GET /\xff\xfe HTTP/1.1\r\n\r\n", False, {400}),
    ("bad-percent-escape", b"GET /api/log?n=%zz HTTP/1.1\r\n\r\n", False, {400}),
    ("percent-escape-not-utf8", b"GET /api/log?n=%ff HTTP/1.1\r\n\r\n", False, {400}),
    ("header-without-colon", b"GET /api/status HTTP/1.1\r\nNoColonHere\r\n\r\n", False, {400}),
    ("folded-header", b"GET /api/status HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n", False, {400}),
    ("non-utf8-header", b"GET /api/status HTTP/1.1\r\nX-A: \xff\xfe\r\n\r\n", False, {400}),
    ("huge-header-line", b"GET /api/status HTTP/1.1\r\nX-Big: " + b"a" * 6000 + b"\r\n\r\n", False, {400}),
    ("huge-request-line", b"GET /" + b"a" * 6000 + b" HTTP/1.1\r\n\r\n", False, {400}),
    ("endless-line", b"GET /" + b"a" * 3000, False, {400}),
    ("too-many-headers", b"GET /api/status HTTP/1.1\r\n" + b"X-A: b\r\n" * 1000 + b"\r\n", False, {400}),
    (
        "content-length-not-number",
        post(b"/api/dr/end", b"{}").replace(b"Content-Length: 2", b"Content-Length: abc"),
        False,
        {400},
    ),
    (
        "content-length-negative",
        post(b"/api/dr/end", b"{}").replace(b"Content-Length: 2", b"Content-Length: -5"),
        False,
        {400},
    ),
    (
        "content-length-float",
        post(b"/api/dr/end", b"{}").replace(b"Content-Length: 2", b"Content-Length: 1e3"),
        False,
        {400},
    ),
    ("content-length-twice", post(b"/api/dr/end", b"{}", b"Content-Length: x\r\n"), False, {400}),
    (
        "content-length-huge",
        post(b"/api/dr/end", b"").replace(b"Content-Length: 0", b"Content-Length: 99999999"),
        False,
        {413},
    ),
    (
        "content-length-short",
        post(b"/api/dr/shed", b'{"duration_s": 5}').replace(b"Length: 17", b"Length: 2"),
        False,
        {400},
    ),
    ("body-cut-short", post(b"/api/dr/shed", b'{"duration_s": 5}').replace(b"Length: 17", b"Length: 50"), True, {400}),
    (
        "chunked-body",
        b"POST /api/dr/end HTTP/1.1\r\n" + AUTH + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        False,
        {411},
    ),
    (
        "body-without-length",
        post(b"/api/dr/shed", b'{"duration_s": 5}').replace(b"Content-Length: 17\r\n", b""),
        False,
        {411},
    ),
    ("body-not-json", post(b"/api/dr/shed", b"{nope"), False, {400}),
    ("deeply-nested-json", post(b"/api/dr/shed", b"[" * 1500), False, {400}),
    ("body-not-utf8", post(b"/api/dr/shed", b'{"duration_s": "\xff"}'), False, {400}),
    (
        "content-type-not-json",
        post(b"/api/dr/shed", b'{"duration_s": 5}').replace(b"application/json", b"text/plain\x00"),
        False,
        {415},
    ),
    ("unknown-method-no-token", b"BREW /api/status HTTP/1.1\r\n\r\n", False, {401}),
    ("wrong-token", post(b"/api/dr/end", b"{}").replace(TOKEN.encode(), b"nope"), False, {401}),
    ("half-request-line-eof", b"GET /api/sta", True, {400}),
    ("tls-client-hello", bytes.fromhex("160301020001") + bytes(range(200, 256)) * 8, True, {400}),
]


@pytest.mark.parametrize("data,shut,expected", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_raw_request(server, data, shut, expected):
    status, body = server.raw(data, shut)
    assert status in expected, (status, body)
    assert "error" in json.loads(body)
    assert server.get_status()[0] == 200
    assert server.logs == []  # nothing crashed


def test_body_without_length_is_refused_and_nothing_sent(server):
    data = post(b"/api/dr/shed", b'{"duration_s": 5}').replace(b"Content-Length: 17\r\n", b"")
    assert b"Content-Length" not in data
    status, body = server.raw(data, False)
    assert status == 411 and "Content-Length" in json.loads(body)["error"]
    assert server.ucm.calls == []
    # a POST with neither a body nor a Content-Length (curl -X POST) still runs
    status, body = server.raw(post(b"/api/dr/end", b"").replace(b"Content-Length: 0\r\n", b""), False)
    assert status == 200, body
    assert server.ucm.calls == [("end", {})]


def test_malformed_all_at_once(server):
    results = [None] * len(MALFORMED)

    def one(i):
        results[i] = server.raw(MALFORMED[i][1], MALFORMED[i][2])[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(MALFORMED))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert [r in m[3] for r, m in zip(results, MALFORMED)] == [True] * len(MALFORMED), results
    assert server.get_status()[0] == 200


def test_valid_requests_over_socket(server):
    status, body = server.get_status()
    assert status == 200 and json.loads(body) == STATUS
    status, body = server.raw(post(b"/api/dr/shed", b'{"duration_s": 600}'))
    assert status == 200 and json.loads(body)["encoded_s"] == 578
    assert server.ucm.calls[-1] == ("shed", {"duration_s": 600})


def assert_closed_after_timeout(s, t0):
    data = read_all(s, 3)
    elapsed = time.monotonic() - t0
    assert data == b"" and 0.4 < elapsed < 2.0, (data, elapsed)


@pytest.mark.parametrize(
    "first",
    [
        b"",
        b"GET /api/sta",
        b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        post(b"/api/dr/shed", b'{"duration_s": 600}')[:-6],
    ],
    ids=["silent", "half-request-line", "headers-unfinished", "body-unfinished"],
)
def test_stalled_client_does_not_block_others(server, first):
    t0 = time.monotonic()
    stalled = server.connect()
    try:
        if first:
            stalled.sendall(first)
        time.sleep(0.05)
        status, _ = server.get_status()
        assert status == 200 and time.monotonic() - t0 < 0.35  # well before the 0.5 s timeout
        assert_closed_after_timeout(stalled, t0)
    finally:
        stalled.close()
    assert server.get_status()[0] == 200


def test_slow_client_is_cut_at_timeout(server):
    s = server.connect()
    t0 = time.monotonic()
    try:
        request = b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: 1\r\n" * 100 + b"\r\n"
        for i in range(len(request)):  # one byte every 20 ms: 0.5 s is not enough
            try:
                s.sendall(request[i : i + 1])
            except OSError:
                break
            if time.monotonic() - t0 > 1.5:
                break
            time.sleep(0.02)
        status, _ = parse(read_all(s, 3))
        assert status is None
        assert time.monotonic() - t0 < 1.0
    finally:
        s.close()


def test_many_silent_clients(server):
    silent = [server.connect() for _ in range(20)]
    try:
        t0 = time.monotonic()
        for _ in range(3):
            assert server.get_status()[0] == 200
        assert time.monotonic() - t0 < 0.35
    finally:
        for s in silent:
            s.close()


def test_connect_and_close_is_ignored(server):
    for _ in range(5):
        server.connect().close()
    assert server.get_status()[0] == 200
    assert server.logs == []


# --- heap: at most max_clients requests at once, answers streamed ---------------------


def _in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    return t, out


@pytest.fixture
def one_slot(server):
    # the module's server with room for one request at a time, restored afterwards
    server.app.max_clients = 1
    yield server
    server.app.max_clients = api.MAX_CLIENTS
    server.ucm.delay_s = 0


def test_past_max_clients_a_request_waits_then_gets_503(one_slot):
    server = one_slot
    busy0 = server.app.busy
    server.ucm.delay_s = api.BUSY_WAIT_S + 1.5  # the one slot is held longer than a request waits
    shed = (
        b"POST /api/dr/shed HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Type: "
        b"application/json\r\nContent-Length: 2\r\n\r\n{}" % TOKEN.encode()
    )
    t, out = _in_thread(lambda: server.raw(shed, timeout=10))
    time.sleep(0.3)
    t0 = time.monotonic()
    code, body = server.raw(b"GET /api/status HTTP/1.0\r\n\r\n", timeout=10)
    waited = time.monotonic() - t0
    assert code == 503 and json.loads(body) == {"error": "busy, try again soon"}
    assert waited >= api.BUSY_WAIT_S - 0.1  # it waited for a slot first
    t.join(10)
    assert out and out[0][0] == 200  # the command that held the slot got its answer
    assert server.get_status()[0] == 200  # and the slot is free again
    assert server.app.busy == busy0 + 1


def test_a_short_burst_past_max_clients_waits_for_its_slot(one_slot):
    server = one_slot
    busy0 = server.app.busy
    server.ucm.delay_s = 0.5
    shed = (
        b"POST /api/dr/shed HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Type: "
        b"application/json\r\nContent-Length: 2\r\n\r\n{}" % TOKEN.encode()
    )
    threads = [_in_thread(lambda: server.raw(shed, timeout=10)) for _ in range(3)]
    for t, _ in threads:
        t.join(10)
    assert [out[0][0] for _, out in threads] == [200, 200, 200]
    assert server.app.busy == busy0 and server.app.active == 0


def test_json_answers_are_streamed_without_a_content_length(server):
    s = server.connect()
    try:
        s.sendall(b"GET /api/log?n=3 HTTP/1.0\r\n\r\n")
        data = read_all(s, 5)
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and b"content-length" not in head.lower()
    assert b"application/json" in head
    assert json.loads(body) == {"frames": server.ucm.frames(3)}


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=30)
        | st.floats(allow_nan=False, allow_infinity=False),
        lambda kids: st.lists(kids, max_size=8) | st.dictionaries(st.text(max_size=10), kids, max_size=8),
        max_leaves=60,
    )
)
def test_streamed_json_pieces_are_the_json_of_the_object(obj):
    pieces = list(api._chunks(obj))
    assert json.loads("".join(pieces)) == obj
    assert all(len(p) >= api.CHUNK for p in pieces[:-1])  # written in pieces of about CHUNK


def test_two_content_length_headers_are_refused(server):
    body = b'{"duration_s": 600}'
    req = (
        b"POST /api/dr/shed HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nContent-Length: %d\r\n\r\n%s" % (TOKEN.encode(), len(body), body)
    )
    n = len(server.ucm.calls)
    code, out = server.raw(req, timeout=5)
    assert code == 400, out
    assert len(server.ucm.calls) == n  # nothing was run


def test_wrong_tokens_back_off_per_address(server):
    bad = b"POST /api/dr/end HTTP/1.0\r\nAuthorization: Bearer wrong-token-x\r\nContent-Length: 0\r\n\r\n"
    good = b"POST /api/dr/end HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\n\r\n" % TOKEN.encode()
    server.app.fails.clear()
    codes = [server.raw(bad, timeout=5)[0] for _ in range(api.FAILS_FREE)]
    assert codes == [401] * api.FAILS_FREE
    code, out = server.raw(good, timeout=5)  # even the right token waits now
    assert code == 429 and b"too many wrong tokens" in out, out
    time.sleep(api.BACKOFF_MS / 1000 + 0.2)
    assert server.raw(good, timeout=5)[0] == 200  # the wait is over: the right token clears it
    assert server.raw(bad, timeout=5)[0] == 401
    assert server.get_status()[0] == 200  # reading needs no token and is never held back


# --- cross-site: Host names, and GETs that put traffic on the bus ----------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:8080",
        "192.168.1.50",
        "[::1]:80",
        "[fe80::1]",
        "localhost",
        "LOCALHOST:8080",
        "ucm",
        "ucm.local",
        "UCM.Local:80",
        "heater.lan",
    ],
)
def test_host_names_of_the_board_are_served(host):
    e = Env(hosts=["ucm", "ucm.local", "heater.lan"])
    r = asyncio.run(TestClient(e.app, host=host).request("GET", "/api/status"))
    assert_json(r, 200)


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "ucm.attacker.example",
        "192.168.1.50.nip.io",
        "localhost.evil",
        "ucm.local.evil",
        "heater.lan.evil:80",
        "evil",
        "1.2.3.4x",
    ],
)
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/status"),
        ("POST", "/api/dr/shed"),
        ("GET", "/api/sgd/info?refresh=1"),
        ("PUT", "/api/config"),
        ("GET", "/api/log"),
    ],
)
def test_other_host_names_are_refused_before_anything_runs(host, method, path):
    # a DNS-rebinding page reaches the board under its own name: 403, even with the
    # token (the browser would send a stored one), nothing read, nothing sent
    e = Env(hosts=["ucm", "ucm.local", "heater.lan"])
    r = asyncio.run(
        TestClient(e.app, host=host).request(
            method,
            path,
            headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
            body='{"duration_s": 60}' if method != "GET" else None,
        )
    )
    assert assert_json(r, 403)["error"].startswith("Host is not a name of this board")
    assert e.ucm.calls == [] and e.ucm.frames_asked == []


def test_any_host_with_a_star():
    e = Env(hosts=["*"])
    assert_json(asyncio.run(TestClient(e.app, host="proxy.example.org").request("GET", "/api/status")), 200)


def test_no_host_header_is_served(server):
    # HTTP/1.0 tools send none; every browser sends one
    st, body = server.raw(b"GET /api/status HTTP/1.0\r\n\r\n")
    assert st == 200 and json.loads(body)["link"]
    st, body = server.raw(b"GET /api/status HTTP/1.1\r\nHost: attacker.example\r\n\r\n")
    assert st == 403


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/api/sgd/info?refresh=1", "refresh_info"),
        ("/api/sgd/energy?refresh=1", "refresh_energy"),
        ("/api/sgd/setpoint", "get_setpoint"),
    ],
)
def test_bus_gets_without_token_are_rate_limited(env, path, kind, monkeypatch):
    now = [1000]
    monkeypatch.setattr(api_cmd, "ticks_ms", lambda: now[0])
    env.ucm.script[kind] = "reply"
    assert_json(env.get(path), 200)
    r = env.get(path)
    assert assert_json(r, 429)["error"].startswith("without the token at most one per 10 s")
    assert r.headers["Retry-After"] == "10"
    now[0] += 9500
    assert env.get(path).headers["Retry-After"] == "1"
    assert env.ucm.calls == [(kind, {})]  # only the first one reached the bus
    for _ in range(3):  # with the token: any time
        assert_json(env.get(path, token=TOKEN), 200)
    assert len(env.ucm.calls) == 4
    now[0] += 500
    assert_json(env.get(path), 200)
    assert_json(env.get("/api/sgd/info"), 200)  # the cached data is never limited
    assert_json(env.get("/api/sgd/info?refresh=0"), 200)


def test_bus_get_limits_are_per_route(env, monkeypatch):
    monkeypatch.setattr(api_cmd, "ticks_ms", lambda: 5000)
    for kind in ("refresh_info", "refresh_energy", "get_setpoint"):
        env.ucm.script[kind] = "reply"
    for path in ("/api/sgd/info?refresh=1", "/api/sgd/energy?refresh=1", "/api/sgd/setpoint"):
        assert_json(env.get(path), 200)
    assert len(env.ucm.calls) == 3
