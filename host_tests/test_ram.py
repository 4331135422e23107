# tools/ram.py (make ram) without running the firmware: what it imports and in which
# group, the page's polling pattern, the answer checks, and what it says without a
# 32-bit binary. The budgets themselves run in `make ram` (part of `make test`).
import http.server
import json
import os
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import deploy  # noqa: E402
import ram  # noqa: E402


def test_every_deployed_module_is_in_exactly_one_group():
    items = deploy.files("host", page=False, host=True)
    groups = ram.modules(items)
    names = [m for _, mods in groups for m in mods]
    assert len(names) == len(set(names))
    deployed = {i.dest for i in items if i.kind == "mpy" and not i.name.startswith("boards/common/")}
    assert len(names) == len(deployed)
    g = dict(groups)
    assert "cta2045" in g["codec"] and "ucm.engine" in g["engine"] and "microdot" in g["Microdot"]
    assert "ucm_api" in g["API"] and "ucm_board" in g["board"] and g["the rest"][-1] == "ucm_main"
    assert g["codec"][0] == "cta2045"  # a package before its modules
    assert [n for n, _ in groups] == [n for n in ram.GROUP_ORDER if n in g]


def test_host_is_a_deploy_board_only_when_asked():
    with pytest.raises(deploy.DeployError):
        deploy.files("host", page=False)


def test_the_load_follows_the_web_pages_own_polling():
    poll, log, energy, n = ram.page_timing()
    with open(os.path.join(ROOT, "firmware", "www", "index.html")) as f:
        page = f.read()
    assert "POLL_MS = %d" % poll in page and "LOG_MS = %d" % log in page and "ENERGY_MS = %d" % energy in page
    assert '"/api/log?n=%d"' % n in page


class _Handler(http.server.BaseHTTPRequestHandler):
    answers = {}

    def do_GET(self):
        code, body = self.answers[self.path]
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def fake():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


def test_answers_cut_short_or_wrong_are_failures(fake):
    good = {"link": {"state": "up"}, "firmware": {"mem_free_low": 1}}
    _Handler.answers = {
        "/api/status": (200, json.dumps(good).encode()),
        "/cut": (200, json.dumps(good).encode()[:-5]),
        "/down": (200, json.dumps({"link": {"state": "down"}, "firmware": {"mem_free_low": 1}}).encode()),
        "/": (200, b"PAGE"[:3]),
        "/metrics": (200, b"ucm_uptime_seconds 3\nucm_link_up 1\nucm_mem_free_bytes 5"),
        "/busy": (503, b'{"error": "busy"}'),
    }
    load = ram.Load(fake.server_address[1], b"PAGE", 64)
    assert load.check("GET", "/api/status", want=load._route_check("/api/status")) == good
    assert load.nfail == 0
    load.check("GET", "/cut")
    load.check("GET", "/down", want=load._route_check("/api/status"))
    load.check("GET", "/")
    load.check("GET", "/metrics")
    load.check("GET", "/busy")
    whys = [w for _, w in load.failures]
    assert load.nfail == 5, whys
    assert "not complete JSON" in whys[0] and whys[1] == "link down" and "3 of 4 bytes" in whys[2]
    assert "incomplete metrics" in whys[3] and whys[4].startswith("HTTP 503")


def test_without_a_32_bit_binary_it_says_so_and_fails_only_in_ci(monkeypatch, capsys):
    monkeypatch.delenv("MICROPYTHON32", raising=False)
    monkeypatch.setattr(ram.runtime, "micropython", lambda env=None: None)
    monkeypatch.setenv("CI", "true")
    assert ram.main([]) == 1
    assert "the RAM budgets cannot run: no 32-bit MicroPython unix port" in capsys.readouterr().err
    monkeypatch.setenv("CI", "")
    assert ram.main([]) == 0
    out = capsys.readouterr().out
    assert "SKIPPED the budgets" in out and "MICROPYTHON32=" in out and "no 64-bit unix port either" in out


def test_a_binary_that_does_not_run_is_one_clear_line(tmp_path, capsys):
    missing = tmp_path / "nothing"
    assert ram.main(["--binary", str(missing)]) == 1
    assert "no such file" in capsys.readouterr().err
    notexe = tmp_path / "micropython"
    notexe.write_text("not a program")
    notexe.chmod(0o755)
    assert ram.main(["--binary", str(notexe)]) == 1
    assert capsys.readouterr().err.startswith("ram: %s does not" % notexe)
