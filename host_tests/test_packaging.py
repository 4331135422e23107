# Packaging: package.json's mip "urls" name every module of lib/cta2045, lib/ucm, lib/ninebit and
# only files that exist (a new module cannot be forgotten), and `mpremote mip install`
# of that package.json puts them on a board (the board double, host_tests/mpboard.py);
# manifest.py, run with stand-ins for the manifest functions as MicroPython's build runs
# it, names only files and folders that exist and freezes what make deploy copies, for
# every device board.
import glob
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
MIP_PACKAGES = ("cta2045", "ucm", "ninebit")


def package_json():
    with open(os.path.join(ROOT, "package.json")) as f:
        return json.load(f)


def library_sources():
    return sorted(
        "lib/%s/%s" % (pkg, n)
        for pkg in MIP_PACKAGES
        for n in os.listdir(os.path.join(ROOT, "lib", pkg))
        if n.endswith(".py")
    )


def test_mip_urls_list_every_library_module_and_only_existing_files():
    pj = package_json()
    urls = pj["urls"]
    assert all(isinstance(u, list) and len(u) == 2 for u in urls)
    for dest, src in urls:
        assert os.path.isfile(os.path.join(ROOT, src)), src
        assert src == "lib/" + dest, (dest, src)  # installed as <package>/<module>.py
    sources = [src for _, src in urls]
    assert len(sources) == len(set(sources))
    assert sorted(sources) == library_sources()


def test_package_json_is_what_make_package_json_writes():
    with open(deploy.PACKAGE_JSON) as f:
        text = f.read()
    assert deploy.package_json_text(json.loads(text)) == text, "package.json is stale: run make package-json"
    fields = deploy.mip_fields()
    assert rows(fields["urls"], 15) and fields["version"] == package_json()["version"]


def test_make_package_json_rewrites_a_stale_file(tmp_path, monkeypatch):
    stale = dict(package_json(), version="0.0.1", urls=[["x.py", "lib/x.py"]])
    path = tmp_path / "package.json"
    path.write_text(json.dumps(stale))
    monkeypatch.setattr(deploy, "PACKAGE_JSON", str(path))
    assert deploy.main(["--package-json"]) == 0
    out = json.loads(path.read_text())
    assert out["urls"] == package_json()["urls"] and out["version"] == package_json()["version"]
    assert out["devDependencies"] == package_json()["devDependencies"]


def test_package_json_stays_valid_for_npm_and_mip():
    pj = package_json()
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", pj["version"])
    assert pj["deps"] == []
    assert pj["devDependencies"]  # the npm side (MicroPython's WebAssembly port) is kept
    with open(os.path.join(ROOT, "package-lock.json")) as f:
        lock = json.load(f)
    assert lock["packages"][""]["devDependencies"] == pj["devDependencies"]
    assert lock["packages"][""]["version"] == pj["version"]


def test_one_version_everywhere():
    # the project's version is written once (lib/ucm/__init__.py); package.json, its
    # lock, the firmware's status and the GetInformation reply read or repeat exactly it
    import ucm

    with open(os.path.join(ROOT, "lib", "ucm", "__init__.py")) as f:
        written = re.findall(r'^__version__ = "([^"]+)"', f.read(), re.M)
    assert written == [ucm.__version__]
    assert package_json()["version"] == ucm.__version__
    with open(os.path.join(ROOT, "package-lock.json")) as f:
        assert json.load(f)["version"] == ucm.__version__
    y, m, d = ucm.RELEASED
    assert 2000 <= y < 2256 and 1 <= m <= 12 and 1 <= d <= 31
    hits = []
    for tree in ("lib", "firmware", "boards", "tools"):
        for dirpath, _, names in os.walk(os.path.join(ROOT, tree)):
            for n in names:
                if n.endswith(".py"):
                    with open(os.path.join(dirpath, n)) as f:
                        if re.search(r'VERSION = "|__version__ = "', f.read()):
                            hits.append(os.path.relpath(os.path.join(dirpath, n), ROOT))
    assert hits == ["lib/ucm/__init__.py"]  # nobody else writes a version


def test_mip_install_puts_the_library_on_a_board(tmp_path):
    b = FakeBoard(str(tmp_path / "flash"))
    b.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mpremote", "connect", b.port, "mip", "install", os.path.join(ROOT, "package.json")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        tree = b.tree()
    finally:
        b.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = {}
    for src in library_sources():
        with open(os.path.join(ROOT, src), "rb") as f:
            expected["/" + src] = f.read()  # lib/cta2045/x.py -> /lib/cta2045/x.py
    assert tree == expected


class Recorder:
    """Stand-ins for the manifest functions of MicroPython's tools/manifestfile.py."""

    def __init__(self):
        self.calls = []
        self.frozen = {}  # module path on the board -> source file
        self.missing = ()  # include() paths that do not exist

    def functions(self):
        def include(path, **kwargs):
            self.calls.append(("include", path))
            if path in self.missing:
                raise FileNotFoundError(path)

        def require(name, **kwargs):
            self.calls.append(("require", name))

        def package(name, files=None, base_path=".", opt=None):
            self.calls.append(("package", name, base_path))
            base = os.path.abspath(base_path)
            assert os.path.isdir(os.path.join(base, name)), (name, base_path)
            if files is None:
                files = [
                    os.path.relpath(os.path.join(d, n), os.path.join(base, name))
                    for d, _, ns in os.walk(os.path.join(base, name))
                    for n in ns
                    if n.endswith(".py")
                ]
            for f in files:
                src = os.path.join(base, name, f)
                assert os.path.isfile(src), src
                self.frozen["%s/%s" % (name, f.replace(os.sep, "/"))] = src

        def module(name, base_path=".", opt=None):
            self.calls.append(("module", name, base_path))
            src = os.path.join(os.path.abspath(base_path), name)
            assert name.endswith(".py") and os.path.isfile(src), src
            assert name not in self.frozen, "frozen twice: " + name
            self.frozen[name] = src

        def metadata(**kwargs):
            self.calls.append(("metadata", kwargs))

        def freeze(path, script=None, opt=None):
            raise AssertionError("freeze() is the legacy form; package()/module() are used")

        return {
            "include": include,
            "require": require,
            "package": package,
            "module": module,
            "metadata": metadata,
            "freeze": freeze,
        }


def run_manifest(monkeypatch, missing=(), **env):
    for k in ("UCM_BOARD", "MICRODOT_DIR", "UCM_BASE_MANIFEST"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    rec = Recorder()
    rec.missing = missing
    path = os.path.join(ROOT, "manifest.py")
    monkeypatch.chdir(ROOT)  # as the build runs a manifest: in its folder
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), rec.functions())
    return rec


def test_manifest_falls_back_to_the_ports_when_the_board_has_none(monkeypatch):
    rec = run_manifest(monkeypatch, missing=("$(BOARD_DIR)/manifest.py",), MICRODOT_DIR=microdot_parent())
    assert rec.calls[:2] == [("include", "$(BOARD_DIR)/manifest.py"), ("include", "$(PORT_DIR)/boards/manifest.py")]


def microdot_parent():
    return os.path.dirname(deploy.microdot_dir())


@pytest.mark.parametrize("board", deploy.boards() or ["pico_w"])
def test_manifest_freezes_what_deploy_copies(monkeypatch, board):
    rec = run_manifest(monkeypatch, UCM_BOARD=board, MICRODOT_DIR=microdot_parent())
    assert rec.calls[0] == ("include", "$(BOARD_DIR)/manifest.py")  # the board's own bundle kept
    assert ("include", "$(PORT_DIR)/boards/manifest.py") not in rec.calls
    assert ("require", "ntptime") in rec.calls
    # the frozen modules are the deployed .mpy files, under the same names
    deployed = {it.dest[len("/lib/") :][: -len(".mpy")] + ".py" for it in deploy.files(board) if it.kind == "mpy"}
    assert set(rec.frozen) == deployed
    for name, src in rec.frozen.items():
        if name == "ucm_main.py":
            with open(src, "rb") as a, open(os.path.join(ROOT, "firmware", "main.py"), "rb") as b:
                assert a.read() == b.read()
        elif name == "ucm_board.py":
            assert src == os.path.join(ROOT, "boards", board, "ucm_board.py")


def test_manifest_defaults_and_errors(monkeypatch):
    # make test always sets up .venv with the pinned Microdot
    assert glob.glob(os.path.join(ROOT, ".venv", "lib", "python3*", "site-packages", "microdot", "microdot.py")), (
        "no .venv with Microdot in the repository (run make test)"
    )
    rec = run_manifest(monkeypatch)  # UCM_BOARD pico_w, Microdot from .venv
    assert "ucm_board.py" in rec.frozen and rec.frozen["ucm_board.py"].endswith(
        os.path.join("boards", "pico_w", "ucm_board.py")
    )
    assert rec.frozen["microdot/microdot.py"].endswith(os.path.join("microdot", "microdot.py"))
    # MICRODOT_DIR may also be the microdot/ folder itself
    rec = run_manifest(monkeypatch, MICRODOT_DIR=deploy.microdot_dir(), UCM_BASE_MANIFEST="$(BOARD_DIR)/manifest.py")
    assert rec.calls[0] == ("include", "$(BOARD_DIR)/manifest.py")
    with pytest.raises(ValueError, match="UCM_BOARD=host: no such board"):
        run_manifest(monkeypatch, UCM_BOARD="host")
    with pytest.raises(ValueError, match="holds no microdot/microdot.py"):
        run_manifest(monkeypatch, MICRODOT_DIR=ROOT)


def test_manifest_and_deploy_agree_on_microdot(monkeypatch):
    assert deploy.microdot_modules() == ["__init__", "microdot"]
    rec = run_manifest(monkeypatch, MICRODOT_DIR=microdot_parent())
    assert sorted(n for n in rec.frozen if n.startswith("microdot/")) == [
        "microdot/__init__.py",
        "microdot/microdot.py",
    ]
    # the manifest keeps no file list of its own: it freezes tools/deploy.py's layout
    with open(os.path.join(ROOT, "manifest.py")) as f:
        text = f.read()
    assert "deploy.files(" in text and "_HOST_ONLY = " not in text and 'files=["__init__.py"' not in text
