# tools/bundle.py (make bundle): the update bundle of a device board. Its manifest and
# files are exactly what make deploy puts on the board, compiled the same way; the
# archive is reproducible; --check refuses a damaged, truncated, foreign or unsafe one;
# bad input gets one line and status 1, never a traceback.

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

import bundle
import deploy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args):
    p = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "bundle.py")] + list(args), capture_output=True, text=True
    )
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bundle") / "pico_w.tar")
    path, man = bundle.build("pico_w", out, log=lambda *a: None)
    return path, man


def test_manifest_is_the_deploy_set(built, tmp_path):
    path, man = built
    items = deploy.files("pico_w")
    assert [f["path"] for f in man["files"]] == [it.dest for it in items]
    assert man["board"] == "pico_w" and man["version"] == deploy.version() and man["micropython"] == "1.29"
    assert (man["format"], man["format_version"]) == (bundle.FORMAT, bundle.FORMAT_VERSION)
    # each file is what make deploy stages for the board, byte for byte
    tree = str(tmp_path / "tree")
    deploy.stage("pico_w", items, deploy.Compiler(), tree)
    with tarfile.open(path) as tar:
        names = tar.getnames()
        assert names[0] == bundle.MANIFEST
        assert json.loads(tar.extractfile(bundle.MANIFEST).read()) == man
        for f in man["files"]:
            data = tar.extractfile(f["path"].lstrip("/")).read()
            with open(os.path.join(tree, f["path"].lstrip("/")), "rb") as g:
                assert data == g.read(), f["path"]
            assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"]
    assert man["total"] == sum(f["size"] for f in man["files"]) > 0
    assert "/ucm.json" not in names and "ucm.json" not in names  # never the board's settings
    assert {"/main.py", "/www/index.html.gz", "/lib/ucm_main.mpy"} <= {f["path"] for f in man["files"]}


def test_reproducible(built, tmp_path):
    path, _ = built
    again, _ = bundle.build("pico_w", str(tmp_path / "again.tar"), log=lambda *a: None)
    assert open(path, "rb").read() == open(again, "rb").read()


def test_check_accepts_a_good_bundle(built):
    path, man = built
    assert bundle.check(path, "pico_w") == man
    rc, out, err = run("--check", path, "--board", "pico_w")
    assert rc == 0 and "is good: board pico_w" in out and err == ""


def _rewrite(path, out, change):
    """A copy of the bundle with change(members) applied to [(TarInfo, bytes)]."""
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    members = change(members)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for m, data in members:
            m.size = len(data)
            tar.addfile(m, io.BytesIO(data))
    with open(out, "wb") as f:
        f.write(buf.getvalue())
    return out


def _flip(members, i):
    m, data = members[i]
    members[i] = (m, bytes([data[0] ^ 1]) + data[1:])
    return members


def _manifest(members, edit):
    m, data = members[0]
    man = json.loads(data)
    edit(man)
    members[0] = (m, json.dumps(man).encode())
    return members


CASES = {
    "a changed byte": (lambda ms: _flip(ms, 5), "SHA-256 differs"),
    "a file left out": (lambda ms: ms[:5] + ms[6:], r"lists (\d+) files, the archive holds (?!\1)\d+"),
    "two files swapped": (lambda ms: ms[:3] + [ms[4], ms[3]] + ms[5:], "the archive has"),
    "no manifest first": (lambda ms: ms[1:] + ms[:1], "does not start with MANIFEST.json"),
    "another format": (lambda ms: _manifest(ms, lambda m: m.update(format="zip")), "not a ucm-bundle"),
    "an unsafe path": (
        lambda ms: _manifest(ms, lambda m: m["files"][0].update(path="/lib/../../etc/x")),
        "unsafe path",
    ),
    "the board's settings": (
        lambda ms: _manifest(ms, lambda m: m["files"][0].update(path="/ucm.json")),
        "must not carry /ucm.json",
    ),
    "a wrong total": (lambda ms: _manifest(ms, lambda m: m.update(total=1)), "add up to"),
}


def test_case_table_not_empty():
    assert len(CASES) >= 8


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_refuses_a_damaged_bundle(built, tmp_path, case):
    path, _ = built
    change, why = CASES[case]
    bad = _rewrite(path, str(tmp_path / "bad.tar"), change)
    with pytest.raises(bundle.BundleError, match=why):
        bundle.check(bad)
    rc, out, err = run("--check", bad)
    assert rc == 1 and err.startswith("bundle: ") and "Traceback" not in err and out == ""


def test_check_refuses_a_truncated_or_foreign_bundle(built, tmp_path):
    path, _ = built
    data = open(path, "rb").read()
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    # inside the manifest, in the middle, inside the last file (the zero blocks that end a
    # tar after it carry nothing: a bundle cut only there is whole)
    for n in (100, len(data) // 2, last.offset_data + last.size // 2):
        cut = tmp_path / ("cut%d.tar" % n)
        cut.write_bytes(data[:n])
        with pytest.raises(bundle.BundleError):
            bundle.check(str(cut))
    with pytest.raises(bundle.BundleError, match="for board pico_w, not esp32"):
        bundle.check(path, "esp32")
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    rc, _, err = run("--check", str(junk))
    assert rc == 1 and "is not a bundle" in err and "Traceback" not in err


def test_command_line_errors(tmp_path):
    rc, _, err = run("--board", "nope", "--out", str(tmp_path / "x.tar"))
    assert rc == 1 and err.strip() == "bundle: no such board: nope (known boards: %s)" % ", ".join(deploy.boards())
    rc, _, err = run("--board", "pico_w", "--micropython", "new")
    assert rc == 2 and "a MicroPython version such as 1.29" in err
    rc, _, err = run("--check", str(tmp_path / "missing.tar"))
    assert rc == 1 and "missing.tar" in err and "Traceback" not in err
    assert not (tmp_path / "x.tar").exists()


def test_make_bundle_writes_the_default_file():
    p = subprocess.run(
        ["make", "--no-print-directory", "bundle", "BOARD=esp32"], cwd=ROOT, capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    assert "bundle: wrote build/bundle/ucm-esp32-" in p.stdout
    path = bundle.default_out("esp32", deploy.version())
    man = bundle.check(path, "esp32")
    assert [f["path"] for f in man["files"]] == [it.dest for it in deploy.files("esp32")]
