#!/usr/bin/env python3
# `make bundle BOARD=pico_w`: the whole firmware of a device board in one file, for an
# update without a USB cable. The bundle is a plain ustar archive (`tar tvf` lists it):
# first MANIFEST.json, then every file `make deploy` puts on the board (the same list,
# tools/deploy.py files(), compiled the same way), each under its path on the board
# without the leading "/". The manifest holds the format, the board, the firmware
# version, the MicroPython version the .mpy files are for, and for each file its path,
# size and SHA-256, in archive order; a reader can check the space needed before it
# writes anything, and every file's hash as it arrives. The board's /ucm.json (its
# settings and secrets) is never in a bundle. The archive is byte-for-byte reproducible
# (fixed times, owners and modes).
#   python tools/bundle.py --board pico_w [--out FILE] [--micropython 1.29]
#   python tools/bundle.py --check FILE [--board pico_w]    verify a bundle
# Exit status: 0 done, 1 a problem (one line on stderr), 2 bad command line.

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import deploy  # noqa: E402

FORMAT = "ucm-bundle"
FORMAT_VERSION = 1
MANIFEST = "MANIFEST.json"
MANIFEST_MAX = 16 * 1024  # a reader may refuse a larger manifest (it is read whole)


class BundleError(Exception):
    """A problem reported as one line."""


def default_out(board, version):
    return os.path.join(ROOT, "build", "bundle", "ucm-%s-%s.tar" % (board, version))


def _member(name, size):
    t = tarfile.TarInfo(name)
    t.size = size
    t.mtime = 0
    t.mode = 0o644
    t.uid = t.gid = 0
    t.uname = t.gname = ""
    return t


def manifest_for(board, version, mp_version, entries):
    """The manifest dict for files [(path on the board, bytes)] in archive order."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "board": board,
        "version": version,
        "micropython": "%d.%d" % tuple(mp_version),
        "total": sum(len(data) for _, data in entries),
        "files": [
            {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for path, data in entries
        ],
    }


def write(out, manifest, entries):
    """The archive: MANIFEST.json, then the files in manifest order. Returns its bytes."""
    text = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
    if len(text) > MANIFEST_MAX:
        raise BundleError("the manifest is %d B, over %d B" % (len(text), MANIFEST_MAX))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_member(MANIFEST, len(text)), io.BytesIO(text))
        for path, data in entries:
            tar.addfile(_member(path.lstrip("/"), len(data)), io.BytesIO(data))
    data = buf.getvalue()
    d = os.path.dirname(out)
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    return data


def build(board, out=None, mp_version=deploy.DRY_RUN_VERSION, flags=deploy.DEFAULT_FLAGS, log=print):
    """Compile board's deploy set and write its bundle. Returns (path, manifest)."""
    items = deploy.files(board)  # also checks the board name
    version = deploy.version()
    out = out or default_out(board, version)
    compiler = deploy.Compiler(mp_version, flags)
    log("bundle: board %s, firmware %s, %d files, compiled with %s" % (board, version, len(items), compiler.describe))
    with tempfile.TemporaryDirectory(prefix="ucm-bundle-") as tree:
        deploy.stage(board, items, compiler, tree)
        entries = []
        for item in items:
            with open(os.path.join(tree, item.dest.lstrip("/")), "rb") as f:
                entries.append((item.dest, f.read()))
    manifest = manifest_for(board, version, mp_version, entries)
    data = write(out, manifest, entries)
    log(
        "bundle: wrote %s: %d files, %d B of firmware, %d B in all, SHA-256 %s"
        % (os.path.relpath(out), len(entries), manifest["total"], len(data), hashlib.sha256(data).hexdigest())
    )
    return out, manifest


def check(path, board=None):
    """Verify a bundle: the manifest first and valid, every file present once, in order,
    with its size and SHA-256, safe paths, nothing else. Returns the manifest;
    BundleError naming the first problem."""
    try:
        tar = tarfile.open(path, mode="r:")
    except (OSError, tarfile.TarError) as e:
        raise BundleError("%s is not a bundle (%s)" % (path, e))
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, EOFError) as e:
            raise BundleError("%s is cut short or damaged (%s)" % (path, e))
        if not members or members[0].name != MANIFEST:
            raise BundleError("%s does not start with %s" % (path, MANIFEST))
        if members[0].size > MANIFEST_MAX:
            raise BundleError("the manifest is over %d B" % MANIFEST_MAX)
        try:
            man = json.loads(tar.extractfile(members[0]).read())
        except (ValueError, tarfile.TarError, OSError) as e:
            raise BundleError("the manifest is not JSON (%s)" % e)
        if not isinstance(man, dict) or man.get("format") != FORMAT or man.get("format_version") != FORMAT_VERSION:
            raise BundleError("not a %s version %d manifest" % (FORMAT, FORMAT_VERSION))
        if board and man.get("board") != board:
            raise BundleError("the bundle is for board %s, not %s" % (man.get("board"), board))
        files = man.get("files")
        if not isinstance(files, list) or not files:
            raise BundleError("the manifest lists no files")
        rest = members[1:]
        if len(rest) != len(files):
            raise BundleError("the manifest lists %d files, the archive holds %d" % (len(files), len(rest)))
        total = 0
        for want, m in zip(files, rest):
            p = want.get("path") if isinstance(want, dict) else None
            if not isinstance(p, str) or not p.startswith("/") or ".." in p.split("/") or "//" in p:
                raise BundleError("unsafe path in the manifest: %r" % (p,))
            if p == "/ucm.json":
                raise BundleError("a bundle must not carry /ucm.json (the board's settings)")
            if m.name != p.lstrip("/") or not m.isfile():
                raise BundleError("%s: the archive has %s there" % (p, m.name))
            data = tar.extractfile(m).read()
            if len(data) != want.get("size") or m.size != want.get("size"):
                raise BundleError("%s: %d B, the manifest says %s" % (p, len(data), want.get("size")))
            if hashlib.sha256(data).hexdigest() != want.get("sha256"):
                raise BundleError("%s: SHA-256 differs from the manifest" % p)
            total += len(data)
        if total != man.get("total"):
            raise BundleError("the files add up to %d B, the manifest says %s" % (total, man.get("total")))
    return man


def _mp_version(text):
    try:
        major, minor = (int(x) for x in text.split(".")[:2])
    except ValueError:
        raise argparse.ArgumentTypeError("%r: a MicroPython version such as 1.29" % text)
    return major, minor


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="bundle.py",
        description="Write the firmware of a device board as one update bundle (a tar with a manifest), or check one.",
        epilog="Environment: MPY_FLAGS (mpy-cross flags, as make deploy).",
    )
    ap.add_argument("--board", default="", help="device board: one of %s" % ", ".join(deploy.boards()))
    ap.add_argument("--out", help="the bundle file (default build/bundle/ucm-BOARD-VERSION.tar)")
    ap.add_argument(
        "--micropython",
        type=_mp_version,
        default=deploy.DRY_RUN_VERSION,
        metavar="X.Y",
        help="the board's MicroPython version, for the .mpy format (default %d.%d)" % deploy.DRY_RUN_VERSION,
    )
    ap.add_argument("--check", metavar="FILE", help="verify a bundle (with --board: that it is for that board)")
    args = ap.parse_args(argv)
    try:
        if args.check:
            man = check(args.check, args.board or None)
            print(
                "bundle: %s is good: board %s, firmware %s, %d files, %d B"
                % (args.check, man["board"], man["version"], len(man["files"]), man["total"])
            )
            return 0
        build(args.board, args.out, args.micropython, os.environ.get("MPY_FLAGS", deploy.DEFAULT_FLAGS))
        return 0
    except (BundleError, deploy.DeployError) as e:
        print("bundle: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("bundle: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
