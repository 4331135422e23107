# tools/sniff9.py, the 9-bit bus sniffer: --decode of a PARMRK capture built from the
# golden frames (six frames and one checksum report, nothing else but stray runs and the
# summary), the parameter-change view, --plain, and the live path.
# The live path cannot be tested end to end with the 9th bit: a pseudo-terminal has no
# UART, so nothing on it can fail a parity check. What Linux does on a pty with our
# settings (checked here, so the tests follow the kernel rather than an assumption):
#   - the pty driver clears PARENB whatever is asked, so --serial on a pty is refused as
#     "does not support space parity" (the same check that catches such an adapter);
#   - the line discipline honours INPCK|PARMRK: a 0xFF written into the master reaches
#     the reader doubled (FF FF), as it does from a real adapter; FF 00 x written into
#     the master therefore arrives as FF FF 00 x, a literal FF followed by two bytes,
#     never as a flagged byte.
# So the flagged live loop is tested with a stand-in port (any object with read(n))
# delivering the PARMRK stream in awkward chunks; the pty carries --plain end to end
# (a subprocess, stopped with SIGINT) and the PARMRK doubling of literal 0xFF.

import io
import json
import os
import select
import signal
import subprocess
import sys
import termios
import time

import pytest
import sniff9
from ninebit import frame as F
from ninebit.capture import escape
from ninebit_vectors import ORDER, golden, synthetic_capture

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "sniff9.py")
KINDS = ("kind", "node", "block", "words")


def run(*args, stdin=None):
    return subprocess.run([sys.executable, TOOL] + [str(a) for a in args], input=stdin, capture_output=True, timeout=60)


def jlines(text):
    if isinstance(text, bytes):
        text = text.decode()
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def split(out):
    """(frames, rejected, stray lines, other lines) of the stdout objects."""
    frames = [d for d in out if "hex" in d and "error" not in d]
    errors = [d for d in out if "error" in d]
    strays = [d for d in out if "stray" in d]
    other = [d for d in out if d not in frames and d not in errors and d not in strays]
    return frames, errors, strays, other


def summary(stderr):
    if isinstance(stderr, bytes):
        stderr = stderr.decode()
    last = stderr.strip().splitlines()[-1]
    return json.loads(last)["summary"]


def end_offsets(cap, frames):
    """The offset of each frame's last raw byte in a PARMRK capture, in order."""
    out, pos = [], 0
    for f in frames:
        esc = escape(F.symbols(f))
        pos = cap.index(esc, pos) + len(esc)
        out.append(pos - 1)
    return out


# ---------------------------------------------------------------------------- --decode


def test_decode_golden_capture_gives_six_frames_and_one_checksum_report(tmp_path):
    cap, valid, bad = synthetic_capture()
    path = tmp_path / "bus.raw"
    path.write_bytes(cap)
    r = run("--decode", path)
    assert r.returncode == 0, r.stderr
    frames, errors, strays, other = split(jlines(r.stdout))
    assert [d["hex"] for d in frames] == [f.hex() for f in valid]
    for d, f in zip(frames, valid):
        want = F.describe(f)
        assert d["checksum_ok"] is True and d["flags"] == [0] and d["len"] == len(f)
        assert {k: d[k] for k in KINDS if k in d} == {k: want[k] for k in KINDS if k in want}
    # t: the offset in the file of the frame's last raw byte
    assert [d["t"] for d in frames] == end_offsets(cap, valid)
    assert errors == [
        {
            "t": end_offsets(cap, [bad])[0],
            "error": "checksum",
            "hex": bad.hex(),
            "len": len(bad),
            "expected_checksum": "%02x" % F.sum8(bad, len(bad) - 1),
        }
    ]
    # the noise: 3 bytes before the first frame, 2 after each of the seven
    assert [d["stray"] for d in strays] == [3] + [2] * 7 and all(set(d) == {"t", "stray"} for d in strays)
    assert strays[-1]["t"] == len(cap)  # the last run ends with the file
    assert other == []
    s = summary(r.stderr)
    assert s["frames"] == 6 and s["errors"] == {"checksum": 1, "truncated": 0, "overlength": 0}
    assert s["stray_runs"] == 8 and s["stray_bytes"] == 17 and s["bytes"] == len(cap) and s["flagged"] == 7
    assert len(r.stderr.decode().strip().splitlines()) == 1  # the summary only
    # the same from standard input
    r2 = run("--decode", "-", stdin=cap)
    assert r2.returncode == 0 and r2.stdout == r.stdout


def _capture_with_change():
    c = golden("C")
    w = F.words(c)
    assert w[1] == 0x6200  # 49.0 under the /512 hypothesis
    w[1] = 0x6300  # 49.5
    c2 = F.block(c[1], w)
    frames = [c, golden("A"), c2, golden("A")]
    syms = []
    for f in frames:
        syms += F.symbols(f)
    return escape(syms), frames


def test_params_reports_the_changed_word_and_the_table(tmp_path):
    cap, frames = _capture_with_change()
    path = tmp_path / "bus.raw"
    path.write_bytes(cap)
    r = run("--decode", path, "--params")
    assert r.returncode == 0, r.stderr
    out = jlines(r.stdout)
    kinds = ["change" if "change" in d else "param" if "param" in d else "frame" for d in out]
    assert kinds == ["frame"] * 3 + ["change", "frame"] + ["param"] * 14  # the change follows its frame
    t2 = end_offsets(cap, frames)[2]
    assert out[3]["change"] == {
        "t": t2,
        "kind": "0x40",
        "block": 11,
        "index": 1,
        "old": {"raw": "6200", "u16": 0x6200, "temp_c_hypothesis": 49.0},
        "new": {"raw": "6300", "u16": 0x6300, "temp_c_hypothesis": 49.5},
    }
    params = [d["param"] for d in out if "param" in d]
    assert len(params) == 13 + 1  # 13 words of block 11, and poll 0x90
    p1 = [p for p in params if p["block"] == 11 and p["index"] == 1][0]
    assert p1 == {
        "kind": "0x40",
        "block": 11,
        "index": 1,
        "raw": "6300",
        "u16": 0x6300,
        "temp_c_hypothesis": 49.5,
        "changes": 1,
        "changed_t": t2,
        "seen_t": t2,
    }
    p0 = [p for p in params if p["kind"] == "0x90"][0]
    assert p0["raw"] == "00" and "temp_c_hypothesis" not in p0 and p0["changes"] == 0
    s = summary(r.stderr)
    assert s["params"] == 14 and s["changes"] == 1 and s["frames"] == 4
    # --table: the same table as text on stderr, stdout keeps the frames and the change
    r = run("--decode", path, "--table")
    out = jlines(r.stdout)
    assert r.returncode == 0 and not [d for d in out if "param" in d] and len([d for d in out if "change" in d]) == 1
    row = [x for x in r.stderr.decode().splitlines() if x.split()[:3] == ["0x40", "11", "1"]]
    assert row and row[0].split()[3:7] == ["6300", str(0x6300), "49.500", "1"]


def test_plain_decode_finds_frames_without_flags(tmp_path):
    bad = bytearray(golden("C"))
    bad[5] ^= 0x01
    data = b"\x01\x02" + b"".join(golden(n) + b"\x00\x07" for n in ORDER) + bytes(bad) + golden("A")
    path = tmp_path / "plain.raw"
    path.write_bytes(data)
    r = run("--decode", path, "--plain")
    assert r.returncode == 0, r.stderr
    frames, errors, strays, other = split(jlines(r.stdout))
    want = [golden(n) for n in ORDER] + [golden("A")]
    assert [d["hex"] for d in frames] == [f.hex() for f in want]
    assert all(d["flags"] is None and d["checksum_ok"] for d in frames)
    # t: the offset of the frame's last byte
    ends, pos = [], 0
    for f in want:
        pos = data.index(f, pos) + len(f)
        ends.append(pos - 1)
    assert [d["t"] for d in frames] == ends
    # without the 9th bit a damaged frame is indistinguishable from noise: skipped as stray
    assert errors == [] and other == []
    assert sum(d["stray"] for d in strays) == 2 + 2 * 7 + len(bad)
    s = summary(r.stderr)
    assert s["frames"] == 8 and "flagged" not in s


def test_decode_notes_a_capture_that_is_not_parmrk(tmp_path):
    path = tmp_path / "plain.raw"
    path.write_bytes(b"".join(golden(n) for n in ORDER))  # 8N1 bytes: FF FF of C, no FF 00
    r = run("--decode", path)
    assert r.returncode == 0
    err = r.stderr.decode()
    assert "no byte had its 9th bit set" in err and "try --plain" in err
    assert jlines(r.stdout) == [{"t": len(path.read_bytes()), "stray": 139 - 1}]  # C's data pair FF FF reads as one FF


# ---------------------------------------------------------------------------- live, stand-in port


class FakePort:
    """A port delivering chunks (b"" = a read that timed out), then Ctrl-C."""

    def __init__(self, chunks, end=KeyboardInterrupt):
        self.chunks = list(chunks)
        self.end = end
        self.closed = False

    def read(self, n):
        if self.chunks:
            c = self.chunks.pop(0)
            assert len(c) <= n
            return c
        raise self.end

    def close(self):
        self.closed = True


class FakeClock:
    def __init__(self, step):
        self.t = 100.0
        self.step = step

    def __call__(self):
        self.t += self.step
        return self.t


def awkward_chunks(cap):
    """cap cut into chunks of 1..7 bytes (so escapes FF 00 x and pairs FF FF are split),
    with timed-out reads between some."""
    cuts = {
        cap.index(b"\xff\x00") + 1,
        cap.index(b"\xff\x00") + 2,
        cap.index(b"\xff\xff\xff\xff") + 1,
        cap.index(b"\xff\xff\xff\xff") + 3,
    }
    sizes = (1, 2, 3, 5, 7)
    i = k = 0
    while i < len(cap):
        cuts.add(i)
        i += sizes[k % len(sizes)]
        k += 1
    cuts = sorted(c for c in cuts if 0 < c < len(cap))
    out, prev = [], 0
    for n, c in enumerate(cuts + [len(cap)]):
        out.append(cap[prev:c])
        if n % 4 == 0:
            out.append(b"")
        prev = c
    assert b"".join(out) == cap
    return out


def live(argv, port, clock=None):
    out, err = io.StringIO(), io.StringIO()
    opened = []

    def open_port(path, plain):
        opened.append((path, plain))
        return port

    argv = [str(a) for a in argv]
    status = sniff9.main(argv, stdout=out, stderr=err, open_port=open_port, clock=clock or FakeClock(0.01))
    return status, jlines(out.getvalue()), err.getvalue(), opened


def test_live_loop_unescapes_saves_and_stops_on_ctrl_c(tmp_path):
    cap, valid, bad = synthetic_capture()
    save = tmp_path / "live.raw"
    port = FakePort(awkward_chunks(cap))
    status, out, err, opened = live(["--serial", "/dev/ttyUSB9", "--save", save], port)
    assert status == 0 and opened == [("/dev/ttyUSB9", False)] and port.closed
    frames, errors, strays, other = split(out)
    assert [d["hex"] for d in frames] == [f.hex() for f in valid] and all(d["flags"] == [0] for d in frames)
    assert [(d["error"], d["hex"]) for d in errors] == [("checksum", bad.hex())] and other == []
    ts = [d["t"] for d in out]
    assert ts == sorted(ts) and all(isinstance(t, float) and 0 < t < 60 for t in ts)  # seconds since start
    lines = err.strip().splitlines()
    assert lines[0].startswith("sniff9.py: reading /dev/ttyUSB9 at 19200 baud, space parity")
    assert len(lines) == 2 and summary(err)["frames"] == 6 and summary(err)["errors"]["checksum"] == 1
    # the raw stream was saved exactly as read, and decodes to the same lines
    assert save.read_bytes() == cap
    r = run("--decode", save)
    frames2, errors2, _, _ = split(jlines(r.stdout))
    assert [d["hex"] for d in frames2] == [d["hex"] for d in frames] and [d["hex"] for d in errors2] == [bad.hex()]


def test_live_params_seconds_and_read_error():
    cap, frames = _capture_with_change()
    # --seconds: the port stays silent after the capture, the clock runs on
    port = FakePort([cap] + [b""] * 1000)
    status, out, err, _ = live(["--serial", "p", "--params", "--seconds", "2"], port, FakeClock(0.05))
    assert status == 0 and port.chunks  # stopped by the clock, not by running out
    ch = [d["change"] for d in out if "change" in d]
    assert len(ch) == 1 and (ch[0]["block"], ch[0]["index"], ch[0]["old"]["u16"], ch[0]["new"]["u16"]) == (
        11,
        1,
        0x6200,
        0x6300,
    )
    assert len([d for d in out if "param" in d]) == 14 and summary(err)["changes"] == 1
    # the adapter unplugged while reading: the summary, then the error, status 1
    port = FakePort([cap[:20]], end=OSError(5, "Input/output error"))
    status, out, err, _ = live(["--serial", "p"], port)
    assert status == 1 and port.closed
    lines = err.strip().splitlines()
    assert json.loads(lines[-2])["summary"]["errors"]["truncated"] == 1
    assert lines[-1] == "sniff9.py: error: reading failed: Input/output error"


def test_live_plain_idle_gap_ends_a_partial_frame():
    b = golden("B")
    # half of B, 0.3 s of silence, then A: the gap (default 50 ms) cuts B
    port = FakePort([b[:30]] + [b""] * 3 + [golden("A")])
    status, out, err, opened = live(["--serial", "p", "--plain"], port, FakeClock(0.1))
    assert status == 0 and opened == [("p", True)]
    assert [(d.get("error"), d["hex"]) for d in out if "hex" in d] == [("truncated", b[:30].hex()), (None, "900090")]
    assert out[-1]["flags"] is None and "8N1" in err.splitlines()[0]
    # --gap-ms longer than the silence: B is kept waiting (and cut only by the end of input)
    port = FakePort([b[:30]] + [b""] * 3 + [b[30:]])
    status, out, err, _ = live(["--serial", "p", "--plain", "--gap-ms", "1000"], port, FakeClock(0.1))
    assert [d["hex"] for d in out if "hex" in d] == [b.hex()]


# ---------------------------------------------------------------------------- live, real pty


def _flags(fd):
    a = termios.tcgetattr(fd)
    return a[0], a[2]


def test_pty_refuses_space_parity_with_a_clear_error():
    m, s = os.openpty()
    try:
        r = run("--serial", os.ttyname(s))
    finally:
        os.close(m)
        os.close(s)
    err = r.stderr.decode()
    assert r.returncode == 2 and r.stdout == b"" and "Traceback" not in err
    assert (
        err.count("\n") == 1 and "does not support space parity" in err and "PARENB not set" in err and "--plain" in err
    )


def test_pty_with_parmrk_doubles_a_received_ff():
    serial = pytest.importorskip("serial")
    m, s = os.openpty()
    ser = serial.Serial(os.ttyname(s), 19200, parity=serial.PARITY_SPACE, timeout=0.05)
    try:
        fd = ser.fileno()
        termios.tcsetattr(fd, termios.TCSANOW, sniff9.input_flags(termios.tcgetattr(fd), False))
        iflag, cflag = _flags(fd)
        assert iflag & termios.INPCK and iflag & termios.PARMRK and not iflag & (termios.IGNPAR | termios.BRKINT)
        assert not cflag & termios.PARENB  # the pty driver drops parity
        assert sniff9.space_parity_problem(termios.tcgetattr(fd)) == "PARENB not set"
        c = golden("C")  # holds the data pair ff ff
        os.write(m, c + b"\xff\x00\x40")  # the last three: what a flagged 0x40 looks like *after* the tty
        saved = io.BytesIO()
        sn = sniff9.Sniffer(lambda d: None)
        sniff9.run_live(sniff9.PortReader(ser), sn, seconds=0.3, save=saved)
        raw = saved.getvalue()
        # each FF arrived doubled; nothing arrived flagged
        assert raw == c.replace(b"\xff", b"\xff\xff") + b"\xff\xff\x00\x40"
        assert raw == escape(list(c) + [0xFF, 0x00, 0x40])
        assert sn.symbols == len(c) + 3 and sn.flagged == 0 and sn.unesc.bad == 0
        assert sn.reader.frames == 0 and sn.stray_bytes == len(c) + 3  # no 9th bit: no frame can open
    finally:
        ser.close()
        os.close(m)
        os.close(s)


def _read_until(fd, pred, timeout=15):
    buf = b""
    end = time.monotonic() + timeout
    while not pred(buf):
        left = end - time.monotonic()
        assert left > 0, "timed out; got %r" % buf
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    return buf


def test_pty_plain_live_subprocess_until_sigint():
    m, s = os.openpty()
    name = os.ttyname(s)
    # a long idle gap: a loaded machine must not cut the frames apart
    p = subprocess.Popen(
        [sys.executable, TOOL, "--serial", name, "--plain", "--gap-ms", "5000", "--params"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = _read_until(p.stderr.fileno(), lambda b: b"\n" in b)
        assert first.startswith(b"sniff9.py: reading " + name.encode() + b" at 19200 baud, 8N1"), first
        iflag, cflag = _flags(s)  # the same tty as the child's: its settings
        assert not iflag & (termios.INPCK | termios.PARMRK | termios.BRKINT | termios.IGNBRK | termios.ISTRIP)
        assert cflag & termios.CSIZE == termios.CS8 and not cflag & termios.PARENB
        os.write(m, b"\x01\x02" + b"".join(golden(n) for n in ORDER))
        out = _read_until(p.stdout.fileno(), lambda b: b.count(b'"checksum_ok"') >= 7)
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(m)
        os.close(s)
    assert p.returncode == 0, err
    lines = jlines(out + rest)
    frames = [d for d in lines if "hex" in d]
    assert [d["hex"] for d in frames] == [golden(n).hex() for n in ORDER]
    assert [d for d in lines if "stray" in d][0]["stray"] == 2
    assert len([d for d in lines if "param" in d]) == 30 + 13 + 12 + 2 + 3  # B, C, G, F words; 3 polls
    err = (first + err).decode()
    assert "Traceback" not in err and summary(err)["frames"] == 7


# ---------------------------------------------------------------------------- errors


def test_missing_port_is_one_line():
    r = run("--serial", "/dev/does-not-exist")
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.decode() == "sniff9.py: error: cannot open /dev/does-not-exist: No such file or directory\n"


@pytest.mark.parametrize(
    "argv, text",
    [
        ([], "one of the arguments --serial --decode is required"),
        (["--decode", "/nonexistent/bus.raw"], "cannot read /nonexistent/bus.raw: No such file or directory"),
        (["--decode", "x.raw", "--serial", "/dev/ttyUSB0"], "not allowed with argument"),
        (["--decode", "x.raw", "--save", "y.raw"], "--save applies to --serial only"),
        (["--decode", "x.raw", "--seconds", "5"], "--seconds applies to --serial only"),
        (["--serial", "/dev/ttyUSB0", "--gap-ms", "20"], "--gap-ms applies to --plain only"),
        (["--serial", "/dev/ttyUSB0", "--seconds", "soon"], "'soon' is not a number"),
        (["--serial", "/dev/ttyUSB0", "--seconds", "0"], "must be a positive number"),
        (["--serial", "/dev/null"], "not a serial port"),
        (["--serial", __file__], "not a serial port"),
        (["--serial", "/dev/ttyUSB0", "--save", "/nonexistent/dir/x.raw"], "cannot write /nonexistent/dir/x.raw"),
    ],
)
def test_bad_arguments_are_one_line(argv, text):
    out, err = io.StringIO(), io.StringIO()
    status = sniff9.main(argv, stdout=out, stderr=err, open_port=sniff9.open_port)
    assert status == 2 and out.getvalue() == ""
    assert err.getvalue().count("\n") == 1 and text in err.getvalue(), err.getvalue()


def test_help_documents_the_output():
    r = run("--help")
    text = r.stdout.decode()
    assert r.returncode == 0
    for word in ('"flags"', '"stray"', '"change"', '"param"', "temp_c_hypothesis", '"summary"', "--plain", "--table"):
        assert word in text
