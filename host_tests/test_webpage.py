# The firmware's web page (firmware/www/index.html) in a real browser against the real
# `make sim` program: the state in words, the hot-water gauge, the target temperature
# read and set, the details (states, energy records, frame log), the token form, a
# refused token, a shed sent from the page (and with the keyboard) and seen in the
# heater's operational state, an unreachable UCM, the firmware details and a status with
# fields missing; screenshots at a desktop and a phone width in build/screenshots/. Drives Debian's /usr/bin/chromium
# through Playwright (never a downloaded browser); one simulator process and one browser
# for the whole module to keep it quick.

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

import build
import sgd_sim
from cta2045.names import name
from rig import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = os.path.join(ROOT, "build", "screenshots")  # kept as test artifacts
CLOCK = r"\d{1,2}:\d\d(\s?[AP]M)?"  # a local time as the browser's locale writes it
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "webpage-test-token-7f3a"
# What the simulated heater reports while a shed runs (it depends on whether it is heating)
SHED_STATES = {name("state", sgd_sim.RUNNING_CURTAILED), name("state", sgd_sim.IDLE_CURTAILED)}
# Chromium itself logs every failed or 4xx fetch as a console error; only the tests that
# provoke one on purpose accept it, and only that one.
NET_ERROR = re.compile(r"^Failed to load resource: ")


def _unavailable(reason):
    # a CI machine must have the browser: there a missing one is a failure, not a skip
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _status(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/status" % port, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    port = free_port()
    env = dict(os.environ, PORT=str(port), QUIET="1", UCM_TOKEN=TOKEN)
    env.pop("SERIAL", None)
    log_path = tmp_path_factory.mktemp("sim") / "sim.log"
    with open(log_path, "w") as log:
        # Its own session, with Ctrl-C's default action even when the test runner ignores
        # SIGINT (a background job): it stops as a user stops it, and if it does not, the
        # whole group (launcher and firmware) is killed.
        proc = subprocess.Popen(
            [sys.executable, "tools/sim.py"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        end = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "make sim exited early:\n" + log_path.read_text()
            try:
                if _status(port)["link"]["state"] == "up":
                    break
            except OSError:
                pass
            assert time.monotonic() < end, "link not up:\n" + log_path.read_text()
            time.sleep(0.2)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable("%s not found (Debian package chromium); the page test needs it" % CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Python package playwright not installed (requirements-dev.txt)")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1100, "height": 900},
        )
        try:
            yield ctx
        finally:
            ctx.close()


class Page:
    """A fresh tab on the UCM's page, recording console errors and uncaught exceptions."""

    def __init__(self, ctx, port):
        self.url = "http://127.0.0.1:%d/" % port
        self.errors = []
        self.p = ctx.new_page()
        self.p.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.p.on("pageerror", lambda e: self.errors.append("page error: %s" % e))
        self.p.goto(self.url)

    def text(self, sel):
        return self.p.locator(sel).inner_text()

    def wait_text(self, sel, pattern, timeout=15):
        # (the text that matched) once `pattern` is found in the element's text
        end = time.monotonic() + timeout
        while True:
            t = self.text(sel)
            if re.search(pattern, t):
                return t
            assert time.monotonic() < end, "%s: %r never matched %r" % (sel, t, pattern)
            self.p.wait_for_timeout(200)

    def unexpected_errors(self, allow=None):
        return [e for e in self.errors if not (allow and allow.search(e))]


@pytest.fixture
def page(browser, sim):
    pg = Page(browser, sim)
    yield pg
    pg.p.close()


def _save_token(page, token):
    page.p.fill("#token", token)
    page.p.click("#token-save")
    assert page.p.locator("#token").is_hidden()


def _page_table(name):
    """A {key: "words"} table of the page's script (STATES, EVENTS), read from the page."""
    with open(build.PAGE_SRC, encoding="utf-8") as f:
        src = f.read()
    m = re.search(r"const %s = \{(.*?)\};" % name, src, re.S)
    assert m, name
    table = dict(re.findall(r'(\w+): "([^"]+)"', m.group(1)))
    assert table, name
    return table


def _open_details(page):
    if not page.p.evaluate("document.getElementById('details').open"):
        page.p.click("#details summary")
    assert page.p.locator("#log").is_visible()


def test_page_fits_its_budget_and_is_self_contained():
    assert len(build.page_gz()) <= build.PAGE_LIMIT
    with open(build.PAGE_SRC, encoding="utf-8") as f:
        src = f.read()
    for s in ("http://", "https://", "//cdn"):
        assert s not in src
    for i in (
        "link-state",
        "op-state",
        "event",
        "token",
        "token-save",
        "duration",
        "btn-shed",
        "btn-load_up",
        "btn-critical_peak",
        "btn-grid_emergency",
        "btn-end",
        "result",
        "log",
        "energy",
        "headline",
        "hot",
        "tank-fill",
        "setpoint",
        "sp-value",
        "sp-set",
        "sp-read",
        "details",
        "code7",
    ):
        assert re.search(r"\bid=\"?%s[\"\s>]" % i, src), i


def test_page_shows_link_state_log_and_energy(page, sim):
    page.wait_text("#link-state", r"\bup\b")
    want = _status(sim)["sgd"]["op_state"]
    assert want is not None
    # the headline says it in words; the details keep the protocol's name and code
    page.wait_text("#headline", re.escape(_page_table("STATES")[want["name"]]))
    page.p.wait_for_timeout(2500)  # a poll or two
    assert page.p.locator("#log tbody tr").count() == 0  # the log is read only when asked for
    _open_details(page)
    page.wait_text("#op-state", re.escape("%s (%d)" % (want["name"], want["code"])))
    page.wait_text("#energy", "storage capacity")
    page.wait_text("#log tbody", r"[0-9a-f]{4}")
    assert page.p.locator("#log tbody tr").count() > 0
    page.wait_text("#event", "no active event")
    page.p.wait_for_timeout(2500)  # a few more polls: none of them may log an error
    assert page.unexpected_errors() == []


def _energy(sim):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/sgd/energy" % sim, timeout=5) as r:
        recs = json.loads(r.read())["energy"]["records"]
    return {x["code"]: x["cumulative"] for x in recs}


def test_hot_water_gauge_follows_the_energy_records(page, sim):
    page.wait_text("#link-state", r"\bup\b")
    shown = page.wait_text("#hot", r"^\d+ %$")
    e = _energy(sim)
    cap, c7 = e[6], e[7]
    # by default code 7 is the heat still needed (as on a Rinnai): stored = capacity - code 7
    pct = int(shown.split()[0])
    assert abs(pct - round(100 * (cap - c7) / cap)) <= 2, (shown, e)
    assert "of %.1f kWh stored" % (cap / 1000) in page.text("#hot-more")
    height = page.p.evaluate("document.getElementById('tank-fill').style.height")
    assert height == "%d%%" % pct
    # the other reading: code 7 is the energy stored (kept in the browser)
    _open_details(page)
    page.p.select_option("#code7", "stored")
    pct2 = int(page.wait_text("#hot", r"^\d+ %$").split()[0])
    assert abs(pct2 - round(100 * c7 / cap)) <= 2, (pct2, e)
    assert page.p.evaluate("localStorage.getItem('ucm-code7')") == "stored"
    page.p.select_option("#code7", "take")
    assert page.unexpected_errors() == []


def test_target_temperature_read_and_set(page, sim):
    page.wait_text("#link-state", r"\bup\b")
    # without a token the page does not ask the heater on its own (bus traffic is limited)
    assert page.text("#setpoint") == "—" and "Read" in page.text("#sp-more")
    _save_token(page, TOKEN)
    page.p.click("#sp-read")
    page.wait_text("#setpoint", r"^\d+ °F$")
    page.p.fill("#sp-value", "118")
    page.p.click("#sp-set")
    page.wait_text("#result", r"Target 118 °F: accepted by the water heater \(HTTP 200\)")
    page.wait_text("#setpoint", r"^118 °F$")
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/sgd/setpoint" % sim, headers={"Authorization": "Bearer " + TOKEN}
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        assert json.loads(r.read())["reply"]["fields"]["setpoint1"] == 118  # the heater has it
    # out of range: refused by the command table, named, nothing sent
    page.p.fill("#sp-value", "300")
    page.p.click("#sp-set")
    page.wait_text("#result", r"setpoint.*\(HTTP 400\)")
    page.p.fill("#sp-value", "125")
    page.p.click("#sp-set")
    page.wait_text("#setpoint", r"^125 °F$")
    page.p.click("#token-forget")  # the next tests start without a token
    assert page.p.evaluate("localStorage.getItem('ucm-token')") is None and page.p.locator("#token").is_visible()
    assert page.unexpected_errors(allow=re.compile(NET_ERROR.pattern + r".*\b400\b")) == []


def test_wrong_token_is_refused_and_asked_again(page):
    page.wait_text("#link-state", r"\bup\b")
    _save_token(page, "not-the-token")
    page.p.click("#btn-shed")
    page.wait_text("#result", r"refused.*401")
    assert page.p.locator("#token").is_visible()
    assert page.p.evaluate("localStorage.getItem('ucm-token')") is None
    assert page.unexpected_errors(allow=re.compile(NET_ERROR.pattern + r".*\b401\b")) == []


def test_shed_from_the_page_reaches_the_heater(page, sim, tmp_path):
    page.wait_text("#link-state", r"\bup\b")
    _save_token(page, TOKEN)
    _open_details(page)
    page.p.fill("#duration", "5")
    page.p.click("#btn-shed")
    page.wait_text("#result", r"Save energy: accepted by the water heater \(HTTP 200\), for 4:48")
    shown = page.wait_text("#op-state", "|".join(SHED_STATES))
    assert _status(sim)["sgd"]["op_state"]["name"] in shown
    page.wait_text("#headline", r"^%s until %s$" % (re.escape(_page_table("EVENTS")["shed"]), CLOCK))
    page.wait_text("#doing", r"^The heater: ")
    # the countdown ticks between polls: 5 min asked, 4:48 encoded (2*12^2 s)
    before = page.wait_text("#event", r"\(shed\): [0-4]:\d\d left, until " + CLOCK)
    page.p.wait_for_timeout(1500)
    assert page.text("#event") != before
    os.makedirs(SHOTS, exist_ok=True)
    shot = os.path.join(SHOTS, "page-desktop.png")
    page.p.screenshot(path=shot, full_page=True)
    assert open(shot, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # on a phone the page reflows instead of scrolling sideways (the log scrolls in its box)
    page.p.set_viewport_size({"width": 390, "height": 844})
    page.p.screenshot(path=os.path.join(SHOTS, "page-phone.png"), full_page=True)
    assert page.p.evaluate("document.documentElement.scrollWidth") <= 390
    # with the keyboard: from the duration field, Tab reaches "Save energy"; the End
    # button is reached the same way and Enter sends it
    page.p.focus("#duration")
    page.p.keyboard.press("Tab")
    assert page.p.evaluate("document.activeElement.id") == "btn-shed"
    page.p.focus("#btn-grid_emergency")
    page.p.keyboard.press("Tab")
    assert page.p.evaluate("document.activeElement.id") == "btn-end"
    page.p.keyboard.press("Enter")
    page.wait_text("#result", r"Back to normal: accepted by the water heater \(HTTP 200\)")
    page.wait_text("#event", "no active event")
    # the token stays for the next visit
    assert page.p.evaluate("localStorage.getItem('ucm-token')") == TOKEN
    assert page.unexpected_errors() == []


def test_unreachable_ucm_is_shown_without_piling_up_requests(page):
    page.wait_text("#link-state", r"\bup\b")
    seen = []
    page.p.route("**/api/status", lambda route: (seen.append(time.monotonic()), route.abort()))
    page.wait_text("#link-state", "UCM unreachable")
    page.wait_text("#headline", r"^Cannot reach the module \(UCM unreachable\)$")
    page.p.wait_for_timeout(3000)
    # one request at a time, every 2 s: two or three, never a burst
    assert 1 <= len(seen) <= 3, seen
    page.p.unroute("**/api/status")
    page.wait_text("#link-state", r"\bup\b")
    assert page.unexpected_errors(allow=NET_ERROR) == []


def test_firmware_footer_and_missing_fields(page):
    # The firmware object of a board (GET /api/status "firmware"), some keys missing;
    # then a status with almost nothing in it: the page shows what it has, no errors.
    fw = {
        "board": "pico_w",
        "wifi": {"online": True, "ip": "192.168.1.50", "ssid": "home", "ap": None},
        "config": {"source": "file", "error": None},
        "tasks": {"ucm": {"restarts": 1, "last_error": "OSError", "stalled": False}},
    }
    body = {}

    def status(route):
        st = route.fetch().json()
        st["firmware"] = fw
        route.fulfill(json=body or st)

    page.wait_text("#link-state", r"\bup\b")
    _open_details(page)
    page.p.route("**/api/status", status)
    page.wait_text("#fw-board", "pico_w")
    assert page.p.locator("#fw").is_visible()
    assert "ssid=home" in page.text("#fw-wifi") and "192.168.1.50" in page.text("#fw-wifi")
    assert page.text("#fw-config") == "file" and page.text("#fw-reset") == "—" and page.text("#fw-version") == "—"
    assert "ucm: ok, 1 restarts, last error OSError" in page.text("#fw-tasks")
    body["uptime_s"] = 5
    page.wait_text("#link-state", "unknown")
    assert page.text("#op-state") == "unknown" and page.p.locator("#fw").is_hidden()
    assert page.text("#headline") == "Connecting…"
    assert page.unexpected_errors() == []
