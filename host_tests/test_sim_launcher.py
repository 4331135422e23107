# `make sim` itself (tools/sim.py) as a user runs it: the banner with URL and token, the
# live trace, the API answering with the link up, a clean exit on Ctrl-C; and
# `make sim SERIAL=...` against an external SGD program (the simulator's own CLI on a pty).

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from rig import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "tools", "sim.py")


def _status(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/status" % port, timeout=5) as r:
        return json.loads(r.read())


def _wait_up(port, proc, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, "launcher exited early"
        try:
            st = _status(port)
            if st["link"]["state"] == "up":
                return st
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("link not up")


def _stop(proc):
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    return proc.returncode, out


def test_make_sim_banner_trace_and_clean_exit(tmp_path):
    port = free_port()
    env = dict(os.environ, PORT=str(port), UCM_TOKEN="launcher-token-42")
    env.pop("SERIAL", None)
    env.pop("QUIET", None)
    proc = subprocess.Popen(
        [sys.executable, SIM],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        _wait_up(port, proc)
        req = urllib.request.Request(
            "http://127.0.0.1:%d/api/dr/shed" % port,
            data=b'{"duration_s": 600}',
            method="POST",
            headers={"Authorization": "Bearer launcher-token-42", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["result"] == "ack"
    finally:
        code, out = _stop(proc)
    assert code == 0, out
    assert "http://127.0.0.1:%d/" % port in out and "launcher-token-42" in out
    assert re.search(r"UCM->SGD 080100007ecd\s+type_supported_query", out), out[:2000]
    assert re.search(r"UCM->SGD 080100020111e94e\s+shed duration=17", out)
    assert "Traceback" not in out


def test_make_sim_quiet_generates_a_token():
    port = free_port()
    env = dict(os.environ, PORT=str(port), QUIET="1")
    env.pop("UCM_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, SIM],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        _wait_up(port, proc)
    finally:
        code, out = _stop(proc)
    tok = re.search(r"API token: (\S+)", out).group(1)
    assert len(tok) >= 16
    assert "UCM->SGD" not in out  # no trace


def test_make_sim_serial_against_an_external_sgd_program():
    sgd = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tools", "sgd_sim"), "--pty", "--quiet"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = sgd.stdout.readline()
        path = line.split("pty:")[1].strip()
        port = free_port()
        env = dict(os.environ, PORT=str(port), SERIAL=path, QUIET="1", UCM_TOKEN="t" * 20)
        proc = subprocess.Popen(
            [sys.executable, SIM],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            st = _wait_up(port, proc)
            assert st["link"]["peer_max_payload"] == 64
        finally:
            code, out = _stop(proc)
        assert code == 0 and path in out and "simulator:" not in out, out
    finally:
        sgd.stdin.close()
        sgd.wait(10)


def test_make_sim_bad_serial_path_is_a_clear_error():
    env = dict(os.environ, SERIAL="/dev/does-not-exist-ucm", PORT=str(free_port()))
    p = subprocess.run([sys.executable, SIM], env=env, capture_output=True, text=True, timeout=30)
    assert (
        p.returncode == 1
        and "cannot use /dev/does-not-exist-ucm" in p.stdout
        and "Traceback" not in p.stdout + p.stderr
    )


def test_make_sim_takes_simulator_commands_from_a_pipe():
    port = free_port()
    env = dict(os.environ, PORT=str(port), QUIET="1", UCM_TOKEN="launcher-token-42")
    env.pop("SERIAL", None)
    proc = subprocess.Popen(
        [sys.executable, SIM],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_up(port, proc)
        proc.stdin.write("override on\n")
        proc.stdin.flush()
        end = time.monotonic() + 15
        while not _status(port)["sgd"]["override"]:
            assert time.monotonic() < end, "the piped command did not reach the simulator"
            time.sleep(0.2)
        proc.stdin.close()
        proc.stdin = None  # closed: communicate() must not flush it
        time.sleep(0.5)
    finally:
        code, out = _stop(proc)
    assert code == 0, out
    assert "end of standard input" in out and "Traceback" not in out


def test_make_sim_refuses_a_short_token():
    env = dict(os.environ, PORT=str(free_port()), UCM_TOKEN="x")
    p = subprocess.run([sys.executable, SIM], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "UCM_TOKEN must be 8..128 characters" in p.stdout, p.stdout + p.stderr


def test_the_host_firmware_refuses_a_short_token():
    main = os.path.join(ROOT, "firmware", "main.py")
    env = dict(
        os.environ,
        UCM_TOKEN="short",
        PYTHONPATH=os.pathsep.join(os.path.join(ROOT, d) for d in ("lib", "firmware", "boards/host")),
    )
    p = subprocess.run(
        [sys.executable, main, "--serial", "/dev/null"], env=env, capture_output=True, text=True, timeout=30
    )
    assert p.returncode == 2 and "UCM_TOKEN: 8..128 characters" in p.stdout, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
