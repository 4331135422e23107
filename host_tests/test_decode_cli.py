# Tests for tools/decode.py, the decode/encode command line tool: every input mode (hex
# arguments, stdin lines, binary captures), the PROTOCOL.md section 5 vectors, junk, partial and
# bad-checksum reporting, error exits, and every encode kind round-tripping through the
# decoder. Most run in-process through decode.main(argv, stdout, stderr, stdin); a few
# run the script as a subprocess the way a user would.

import importlib.util
import io
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "decode.py")

_spec = importlib.util.spec_from_file_location("decode_cli", TOOL)
cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cli)

from cta2045.frame import build  # noqa: E402  (lib/ is on sys.path once the tool is loaded)
from cta2045.message import BASIC, decode  # noqa: E402
from checks import rows  # noqa: E402

EPOCH_2000 = 946684800


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


def run(*argv, stdin=""):
    """Run the tool in-process: (exit status, stdout text, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    if isinstance(stdin, str):
        stdin = io.StringIO(stdin)
    status = cli.main(list(argv), out, err, stdin)
    return status, out.getvalue(), err.getvalue()


def events(out):
    return [json.loads(line) for line in out.splitlines()]


def decoded(*argv, stdin=""):
    status, out, err = run(*argv, stdin=stdin)
    assert status == 0, err
    assert err == ""
    return events(out)


def subprocess_run(*argv, stdin=b"", cwd=None):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, TOOL] + list(argv), input=stdin, capture_output=True, cwd=cwd or ROOT, env=env, timeout=60
    )


def assert_usage_error(status, out, err, *fragments):
    assert status == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("decode.py: error: ")
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def encoded(*argv):
    """Run `encode ...` in-process: (frame bytes, notes on stderr)."""
    status, out, err = run("encode", *argv)
    assert status == 0, err
    assert out.endswith("\n") and out.count("\n") == 1
    return bytes.fromhex(out.strip()), err


# --- decoding: the docs vectors, exactly


def test_shed_578s_vector_exact():
    (e,) = decoded("080100020111e94e")
    assert e == {
        "event": "frame",
        "type": "basic_dr",
        "name": "shed",
        "checksum_ok": True,
        "mt": "0801",
        "length": 2,
        "op1": 1,
        "op2": 0x11,
        "fields": {"duration": 0x11, "duration_s": 578},
        "hex": "080100020111e94e",
    }


@pytest.mark.parametrize(
    "hexframe",
    ["080100020111e94e", "0801000203 0ee94f", "080200007ad0", "080300021905ad7c", "080200070c00003c000502a94b"],
)
def test_frame_line_is_to_dict_plus_event_and_hex(hexframe):
    (e,) = decoded(hexframe)
    f = h(hexframe)
    expect = {"event": "frame"}
    expect.update(decode(f).to_dict())
    expect["hex"] = f.hex()
    assert e == expect
    assert list(e)[0] == "event"


def test_app_ack_vector():
    (e,) = decoded("08 01 00 02 03 0E E9 4F")
    assert (e["event"], e["name"], e["type"], e["checksum_ok"]) == ("frame", "app_ack", "basic_dr", True)
    assert e["fields"]["opcode"] == 0x0E
    assert e["fields"]["opcode_name"] == "comm_status"
    assert e["hex"] == "080100020" + "30ee94f"


@pytest.mark.parametrize(
    "hexframe,mt", [("08 01 00 00 7E CD", "0801"), ("08 02 00 00 7A D0", "0802"), ("08 03 00 00 76 D3", "0803")]
)
def test_mtsq_vectors(hexframe, mt):
    (e,) = decoded(hexframe)
    assert e["event"] == "frame"
    assert e["name"] == "type_supported_query"
    assert e["mt"] == mt
    assert e["length"] == 0
    assert e["fields"] == {}
    assert e["checksum_ok"] is True


def test_max_payload_64_vector():
    (e,) = decoded("08 03 00 02 19 05 AD 7C")
    assert (e["name"], e["type"], e["mt"]) == ("max_payload", "data_link", "0803")
    assert e["fields"] == {"code": 5, "max_payload_bytes": 64}


def test_advanced_load_up_vector():
    (e,) = decoded("08 02 00 07 0C 00 00 3C 00 05 02 A9 4B")
    assert (e["name"], e["type"], e["role"], e["length"]) == ("advanced_load_up", "intermediate_dr", "set", 7)
    f = e["fields"]
    assert (f["duration_min"], f["value"], f["units"], f["energy_wh"]) == (60, 5, 2, 500)


def test_bad_checksum_vector_is_decoded_and_flagged():
    status, out, err = run("08 01 00 02 03 02 04 42")
    assert status == 0 and err == ""
    (e,) = events(out)
    assert e["event"] == "bad_checksum"
    assert e["checksum_ok"] is False
    assert e["name"] == "app_ack"
    assert e["fields"]["opcode"] == 2
    assert e["hex"] == "0801000203020442"
    assert e["expected_checksum"] == "0243"
    (fixed,) = decoded("08 01 00 02 03 02 02 43")
    assert fixed["event"] == "frame" and fixed["checksum_ok"] is True and "expected_checksum" not in fixed


def test_link_ack_and_nak():
    ack, nak5, nak7 = decoded("06 00 15 05 15 07")
    assert ack["event"] == "ack" and ack["name"] == "link_ack" and ack["hex"] == "0600" and ack["type"] == "link"
    assert ack == dict({"event": "ack"}, **decode(b"\x06\x00").to_dict(), hex="0600")
    assert nak5["event"] == "nak" and nak5["name"] == "link_nak" and nak5["hex"] == "1505"
    assert nak5["fields"]["nak"] == 5 and nak5["fields"]["nak_name"] == "message_timeout"
    assert nak7["fields"]["nak"] == 7 and nak7["fields"]["nak_name"] == "request_not_supported"


def test_every_line_has_a_known_event_key():
    out = decoded("ff 0801000201 11e94e 0801000203020442 0600 1503 08 01 ff ff 33 0801", "0801000301020344fe")
    kinds = [e["event"] for e in out]
    assert set(kinds) <= {"frame", "ack", "nak", "bad_checksum", "junk", "oversize", "incomplete", "error"}
    assert {"frame", "ack", "nak", "bad_checksum", "junk", "oversize", "incomplete", "error"} == set(kinds)


# --- decoding: junk, partial frames, oversize, decode errors


def test_junk_between_frames_is_reported_not_fatal():
    out = decoded("ffee 080100020111e94e aa55 0600 080200020c00e458 33")
    assert [e["event"] for e in out] == ["junk", "frame", "junk", "ack", "frame", "junk"]
    assert (out[0]["hex"], out[0]["length"]) == ("ffee", 2)
    assert (out[2]["hex"], out[2]["length"]) == ("aa55", 2)
    assert (out[5]["hex"], out[5]["length"]) == ("33", 1)
    assert out[1]["name"] == "shed" and out[4]["name"] == "advanced_load_up"


def test_long_junk_run_is_one_event():
    (junk, ack) = decoded("ff" * 2000 + "0600")
    assert junk == {"event": "junk", "hex": "ff" * 2000, "length": 2000}
    assert ack["event"] == "ack"


def test_trailing_partial_frame_is_incomplete():
    shed, part = decoded("080100020111e94e 0801000201")
    assert shed["name"] == "shed"
    assert part == {"event": "incomplete", "hex": "0801000201", "length": 5, "expected_length": 8}
    (short,) = decoded("0802")
    assert short == {"event": "incomplete", "hex": "0802", "length": 2}


def test_oversize_length_is_reported():
    out = decoded("08 01 ff ff")
    assert out[0] == {"event": "oversize", "declared_length": 0x1FFF, "max_payload": 256}
    # a bigger limit turns the same header into a (partial) frame candidate
    out = decoded("--max-payload", "8191", "08 01 ff ff")
    assert out[0]["event"] == "incomplete" and out[0]["expected_length"] == 0x1FFF + 6


def test_codec_error_is_an_error_line_not_a_traceback():
    bad_len = build(0x0801, b"\x01\x02\x03")  # Basic DR with LEN 3, valid checksum
    status, out, err = run(bad_len.hex() + "0600")
    assert status == 0 and err == ""
    e, ack = events(out)
    assert e["event"] == "error"
    assert e["hex"] == bad_len.hex()
    assert e["checksum_ok"] is True
    assert isinstance(e["error"], str) and e["error"]
    assert ack["event"] == "ack"
    status, out, err = run("--strict", bad_len.hex())
    assert status == 1 and "1 error" in err


def test_strict_exit_status():
    assert run("--strict", "080100020111e94e", "0600")[0] == 0
    status, out, err = run("--strict", "ff080100020111e94e", "0801000203020442")
    assert status == 1
    assert [e["event"] for e in events(out)] == ["junk", "frame", "bad_checksum"]
    assert err.startswith("decode.py: --strict:")
    assert "1 bad_checksum" in err and "1 junk" in err
    assert run("--strict", "0801000201")[0] == 1  # incomplete
    assert run("0801000201")[0] == 0


# --- input modes


SHED = "080100020111e94e"


@pytest.mark.parametrize(
    "text",
    [
        "080100020111e94e",
        "08 01 00 02 01 11 E9 4E",
        "  08 01 00 02 01 11 E9 4E\t",
        "08:01:00:02:01:11:e9:4e",
        "08-01-00-02-01-11-E9-4E",
        "0x080100020111e94e",
        "0X08 0x01 0x00 0x02 0x01 0x11 0xE9 0x4E",
        "0801 0002 0111 e94e",
    ],
)
def test_hex_spellings(text):
    (e,) = decoded(text)
    assert e["name"] == "shed" and e["hex"] == SHED


def test_several_arguments_each_get_a_fresh_reader():
    out = decoded(SHED, "0600", "08010002", "0111e94e")
    assert [e["event"] for e in out] == ["frame", "ack", "incomplete", "junk"]
    assert out[2]["hex"] == "08010002"
    # one argument with both halves is one frame
    (e,) = decoded("08010002" + "0111e94e")
    assert e["event"] == "frame"


def test_one_argument_with_many_frames():
    out = decoded("0801000203010442 0600 080300021905ad7c 1507 080200020101 0443")
    assert [(e["event"], e["name"]) for e in out] == [
        ("frame", "app_ack"),
        ("ack", "link_ack"),
        ("frame", "max_payload"),
        ("nak", "link_nak"),
        ("frame", "get_information"),
    ]


def test_stdin_lines():
    text = "# a capture\n\n080100020111e94e\n   \n  # indented comment\n0600 1505\n08010002\n0111e94e\n"
    out = decoded("-", stdin=text)
    assert [e["event"] for e in out] == ["frame", "ack", "nak", "incomplete", "junk"]
    assert out[0]["name"] == "shed"


def test_stdin_bad_line_reports_and_continues():
    status, out, err = run("-", stdin="0600\nnot hex\n080100020111e94e\n")
    assert status == 2
    assert [e["event"] for e in events(out)] == ["ack", "frame"]
    assert err.strip().count("\n") == 0
    assert err.startswith("decode.py: error: stdin line 2: not hex")


def _capture():
    shed = h("08 01 00 02 01 11 E9 4E")
    corrupt = h("08 01 00 02 03 02 04 42")
    alu = h("08 02 00 07 0C 00 00 3C 00 05 02 A9 4B")
    data = b"\xff\x00\xaa" + shed + corrupt + b"\x06\x00" + alu + b"\x33\x44" + b"\x15\x03" + shed[:5]
    expect = [
        {"event": "junk", "hex": "ff00aa", "length": 3},
        ("frame", "shed"),
        ("bad_checksum", "app_ack"),
        ("ack", "link_ack"),
        ("frame", "advanced_load_up"),
        {"event": "junk", "hex": "3344", "length": 2},
        ("nak", "link_nak"),
        {"event": "incomplete", "hex": shed[:5].hex(), "length": 5, "expected_length": 8},
    ]
    return data, expect


def _check_capture(out, expect):
    assert len(out) == len(expect), out
    for e, x in zip(out, expect):
        if isinstance(x, dict):
            assert e == x
        else:
            assert (e["event"], e["name"]) == x
    assert out[2]["checksum_ok"] is False and out[2]["hex"] == "0801000203020442"
    assert out[4]["fields"]["energy_wh"] == 500
    assert out[6]["fields"]["nak"] == 3


def test_file_capture(tmp_path):
    data, expect = _capture()
    path = tmp_path / "capture.bin"
    path.write_bytes(data)
    _check_capture(decoded("--file", str(path)), expect)


def test_file_capture_read_in_small_chunks(tmp_path, monkeypatch):
    data, expect = _capture()
    body, tail = data[:-5], data[-5:]  # the trailing partial frame is the last 5 bytes
    path = tmp_path / "capture.bin"
    path.write_bytes(body * 3 + tail)
    monkeypatch.setattr(cli, "CHUNK", 3)
    out = decoded("--file", str(path))
    # one reader for the whole file: three copies of the events, one partial at the end
    _check_capture(out[:7] + out[-1:], expect)
    assert out[7:14] == out[:7] and out[14:21] == out[:7]
    assert len(out) == 22
    monkeypatch.setattr(cli, "CHUNK", 65536)
    assert decoded("--file", str(path)) == out


def test_file_from_binary_stdin():
    data, expect = _capture()
    _check_capture(decoded("--file", "-", stdin=io.BytesIO(data)), expect)


def test_empty_file_decodes_to_nothing(tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    assert run("--file", str(path)) == (0, "", "")


# --- input errors


@pytest.mark.parametrize(
    "arg,fragment",
    [
        ("0801zz", "not hex"),
        ("hello", "not hex"),
        ("080", "odd number of hex digits"),
        ("", "no hex digits"),
        (" : - ", "no hex digits"),
    ],
)
def test_bad_hex_argument(arg, fragment):
    assert_usage_error(*run(SHED, arg), fragment)  # nothing printed, not even the good one


def test_missing_file(tmp_path):
    missing = str(tmp_path / "nope.bin")
    assert_usage_error(*run("--file", missing), "cannot read", missing)
    assert_usage_error(*run("--file", str(tmp_path)), "cannot read")


def test_usage_errors():
    assert_usage_error(*run(), "nothing to decode")
    assert_usage_error(*run("--bogus"), "unrecognized arguments")
    assert_usage_error(*run("--file", "x.bin", SHED), "not both")
    assert_usage_error(*run("-", "-"), "only once")
    assert_usage_error(*run("--max-payload", "1", SHED), "--max-payload")


def test_help_texts():
    status, out, err = run("--help")
    assert status == 0 and err == ""
    for word in ("--strict", "--file", "encode", "junk", "bad_checksum", "exit status"):
        assert word in out
    status, out, err = run("encode", "--help")
    assert status == 0
    for name in rows(cli.KINDS, 20):
        assert "\n    %s " % name in out or "\n    %s\n" % name in out, name
    status, out, err = run("encode", "shed", "--help")
    assert status == 0 and "--duration-s" in out


# --- subprocess: the script as users run it


def test_subprocess_from_repo_root_and_elsewhere(tmp_path):
    for cwd, script in ((ROOT, os.path.join("tools", "decode.py")), (str(tmp_path), TOOL)):
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        p = subprocess.run([sys.executable, script, SHED, "0600"], capture_output=True, cwd=cwd, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        shed, ack = [json.loads(line) for line in p.stdout.decode().splitlines()]
        assert shed["name"] == "shed" and shed["fields"]["duration_s"] == 578
        assert ack["event"] == "ack"


def test_subprocess_stdin_and_errors(tmp_path):
    p = subprocess_run("-", stdin=b"# x\n080300021905ad7c\n")
    assert p.returncode == 0
    (e,) = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert e["fields"]["max_payload_bytes"] == 64
    bad = (["zz"], ["--file", str(tmp_path / "missing")], ["encode", "shed", "--duration-s", "-1"], ["encode", "nope"])
    for argv in bad:
        p = subprocess_run(*argv)
        assert p.returncode == 2, argv
        assert p.stdout == b""
        err = p.stderr.decode()
        assert "Traceback" not in err and err.startswith("decode.py: error: ") and err.count("\n") == 1, err


def test_subprocess_binary_capture_on_stdin():
    data, expect = _capture()
    p = subprocess_run("--file", "-", stdin=data)
    assert p.returncode == 0
    _check_capture([json.loads(line) for line in p.stdout.decode().splitlines()], expect)


def test_subprocess_encode_pipes_into_decode():
    enc = subprocess_run("encode", "shed", "--duration-s", "600")
    assert enc.stdout == b"080100020111e94e\n"
    assert enc.stderr.decode() == "note: duration byte 0x11 = 578 s (asked 600 s; rounded down to 2*n*n s)\n"
    dec = subprocess_run("-", stdin=enc.stdout)
    (e,) = [json.loads(line) for line in dec.stdout.decode().splitlines()]
    assert e["name"] == "shed" and e["fields"]["duration"] == 0x11


# --- encoding: docs vectors


@pytest.mark.parametrize(
    "argv,frame",
    [
        ("shed --duration-s 600", "08 01 00 02 01 11 E9 4E"),
        ("shed --duration-s 10m", "08 01 00 02 01 11 E9 4E"),
        ("shed --duration-s 2", "08 01 00 02 01 01 0A 3E"),
        ("shed", "08 01 00 02 01 00 0C 3D"),
        ("shed --duration-code 0x11", "08 01 00 02 01 11 E9 4E"),
        ("end_shed", "08 01 00 02 02 00 09 3F"),
        ("load_up --duration-s 1800", "08 01 00 02 17 1E 8D 87"),
        ("load_up --duration-s 0.5h", "08 01 00 02 17 1E 8D 87"),
        ("critical_peak --duration-s 3528", "08 01 00 02 0A 2A 9C 79"),
        ("grid_emergency", "08 01 00 02 0B 00 ED 51"),
        ("customer_override --on", "08 01 00 02 11 01 D9 5E"),
        ("customer_override --off", "08 01 00 02 11 00 DB 5D"),
        ("app_ack --opcode customer_override", "08 01 00 02 03 11 E3 52"),
        ("app_ack --opcode comm_status", "08 01 00 02 03 0E E9 4F"),
        ("app_ack --opcode 0x0b", "08 01 00 02 03 0B EF 4C"),
        ("app_ack --opcode present_price", "08 01 00 02 03 07 F7 48"),
        ("app_ack --opcode shed", "08 01 00 02 03 01 04 42"),
        ("app_nak --reason customer_override", "08 01 00 02 04 05 F8 48"),
        ("app_nak --reason 5", "08 01 00 02 04 05 F8 48"),
        ("power_level --percent 50", "08 01 00 02 06 3F 7E 86"),
        ("present_price --ratio 1", "08 01 00 02 07 41 77 8A"),
        ("time_sync --weekday tuesday --hour 14", "08 01 00 02 16 4E 30 B5"),
        ("time_sync --weekday 2 --hour 14", "08 01 00 02 16 4E 30 B5"),
        ("comm_status --status lost", "08 01 00 02 0E 00 E4 57"),
        ("comm_status --status found", "08 01 00 02 0E 01 E2 58"),
        ("op_state_query", "08 01 00 02 12 00 D8 5F"),
        ("op_state --state 0", "08 01 00 02 13 00 D5 61"),
        ("op_state --state running_curtailed", "08 01 00 02 13 02 D1 63"),
        ("get_information", "08 02 00 02 01 01 04 43"),
        ("commodity_read", "08 02 00 02 06 00 F6 4C"),
        ("utc_time --get", "08 02 00 02 02 00 03 44"),
        ("advanced_load_up --duration-min 60 --value 5 --units 100Wh", "08 02 00 07 0C 00 00 3C 00 05 02 A9 4B"),
        ("advanced_load_up --duration-min 60 --value 5 --units 2", "08 02 00 07 0C 00 00 3C 00 05 02 A9 4B"),
        ("advanced_load_up --get", "08 02 00 02 0C 00 E4 58"),
        ("advanced_load_up --probe", "08 02 00 07 0C 00 00 00 00 00 FF E9 4E"),
        ("mtsq --type basic", "08 01 00 00 7E CD"),
        ("mtsq --type intermediate", "08 02 00 00 7A D0"),
        ("mtsq --type datalink", "08 03 00 00 76 D3"),
        ("mtsq --type 0803", "08 03 00 00 76 D3"),
        ("type_supported_query --type 08:02", "08 02 00 00 7A D0"),
        ("max_payload_query", "08 03 00 02 18 00 BA 75"),
        ("max_payload --code 5", "08 03 00 02 19 05 AD 7C"),
        ("max_payload --bytes 64", "08 03 00 02 19 05 AD 7C"),
        ("max_payload --code 7", "08 03 00 02 19 07 A9 7E"),
        ("max_payload --bytes 256", "08 03 00 02 19 07 A9 7E"),
    ],
)
def test_encode_docs_vectors(argv, frame):
    got, _ = encoded(*argv.split())
    assert got == h(frame)


def test_encode_output_formats():
    assert run("encode", "shed", "--duration-s", "600") == (
        0,
        "080100020111e94e\n",
        "note: duration byte 0x11 = 578 s (asked 600 s; rounded down to 2*n*n s)\n",
    )
    assert run("encode", "shed", "--duration-s", "600", "--spaced", "-q") == (0, "08 01 00 02 01 11 E9 4E\n", "")
    assert run("encode", "shed", "--duration-s", "578")[2] == "note: duration byte 0x11 = 578 s\n"
    assert run("encode", "shed")[2] == "note: duration byte 0x00 = unknown duration\n"
    assert run("encode", "shed", "--duration-s", "1")[1:] == (
        "0801000201010a3e\n",
        "note: duration byte 0x01 = 2 s (asked 1 s; 2 s is the shortest duration)\n",
    )
    status, out, err = run("encode", "shed", "--duration-s", "200000")
    assert out == "0801000201ff0c3d\n" and "0xff = longer than representable" in err
    assert "ratio 1.000" in run("encode", "present_price", "--ratio", "1")[2]
    assert "0x3f = 49.6 % absorb" in run("encode", "power_level", "--percent", "50")[2]
    assert "500 Wh" in run("encode", "advanced_load_up", "--duration-min", "60", "--value", "5", "--units", "100Wh")[2]


def test_energy_price_field_by_field():
    # Set Energy Price (PROTOCOL.md 4.5): 1.250 USD, expiring 2026-12-08T00:00:00Z, next 0.900
    f, _ = encoded(
        "energy_price", "--cost", "1250", "--currency", "840", "--digits", "3",
        "--expiry", "2026-12-08T00:00:00Z", "--next-cost", "900",
    )  # fmt: skip
    assert f == h("08 02 00 0d 03 00 04 e2 03 48 03 32 aa 05 00 03 84 24 78")
    (d,) = decoded(f.hex())
    assert (d["name"], d["role"], d["checksum_ok"]) == ("energy_price", "set", True)
    fl = d["fields"]
    assert (fl["cost"], fl["currency"], fl["digits"], fl["next_cost"]) == (1250, 840, 3, 900)
    assert (fl["cost_decimal"], fl["next_cost_decimal"]) == ("1.250", "0.900")
    assert (fl["expiry_unix"], fl["expiry_iso"]) == (1796688000, "2026-12-08T00:00:00Z")
    assert "extra" not in fl
    # the optional groups are positional: the next price needs the expiry
    args = ("--cost", "1", "--currency", "840", "--digits", "0", "--next-cost", "2")
    assert run("encode", "energy_price", *args)[0] == 2
    # a price with fewer digits than the decimals, and no decimals at all
    (d,) = decoded(encoded("energy_price", "--cost", "5", "--currency", "978", "--digits", "2")[0].hex())
    assert d["fields"]["cost_decimal"] == "0.05" and "expiry_iso" not in d["fields"]
    (d,) = decoded(encoded("energy_price", "--reply", "--cost", "12", "--currency", "124", "--digits", "0")[0].hex())
    assert d["fields"]["cost_decimal"] == "12" and d["role"] == "reply"


def test_encode_utc_time_set():
    unix = 1772366400  # 2026-03-01T12:00:00Z
    forms = (
        "2026-03-01T12:00:00Z",
        "2026-03-01T12:00:00+00:00",
        "2026-03-01T07:00:00-05:00",
        "2026-03-01 12:00:00",
        str(unix),
    )
    frames = set()
    for form in forms:
        f, note = encoded("utc_time", "--utc", form, "--tz-hours", "-5", "--dst-hours", "1")
        frames.add(f)
        assert "2026-03-01T12:00:00Z" in note
    (f,) = frames
    m = decode(f)
    assert (m.name, m.reply, m.checksum_ok) == ("utc_time", False, True)
    assert m.fields["utc"] == unix - EPOCH_2000
    assert (m.fields["tz"], m.fields["dst"]) == (-20, 4)
    assert f[:6] == h("08 02 00 08 02 00") and len(f) == 14
    f, _ = encoded("utc_time", "--utc", "now")
    assert abs(decode(f).fields["utc"] + EPOCH_2000 - __import__("time").time()) < 60
    f, _ = encoded("utc_time", "--utc", "2000-01-01T00:00:00Z", "--tz-hours", "5.75")
    assert decode(f).fields == {"utc": 0, "tz": 23, "dst": 0}


def test_encode_advanced_load_up_optional_fields():
    f, _ = encoded(
        "advanced_load_up", "--duration-min", "120", "--value", "max", "--units", "kWh", "--efficiency", "3",
        "--event-id", "0x01020304", "--start", "2000-01-01T00:01:00Z", "--start-rand", "5", "--end-rand", "6",
    )  # fmt: skip
    m = decode(f)
    assert m.name == "advanced_load_up"
    assert m.fields == {
        "duration_min": 120, "value": 0xFFFF, "units": 3, "efficiency": 3,
        "event_id": 0x01020304, "start": 60, "start_rand": 5, "end_rand": 6,
    }  # fmt: skip
    f, _ = encoded("advanced_load_up", "--duration-min", "1", "--value", "2", "--efficiency", "9")
    assert decode(f).fields == {"duration_min": 1, "value": 2, "units": 0, "efficiency": 9}


# --- encoding: every kind round-trips through decode

# kind -> (options, decoded name, expected fields (a subset of the decoded fields))
KIND_CASES = {
    "shed": ("--duration-s 600", "shed", {"duration": 0x11}),
    "end_shed": ("", "end_shed", {"op2": 0}),
    "load_up": ("--duration-s 7200", "load_up", {"duration": 0x3C}),
    "critical_peak": ("--duration-s 450", "critical_peak", {"duration": 0x0F}),
    "grid_emergency": ("--duration-s 3698", "grid_emergency", {"duration": 0x2B}),
    "time_remaining": ("--duration-s 1h", "time_remaining", {"duration": 42}),
    "pending_event_time": ("--duration-code 9", "pending_event_time", {"duration": 9}),
    "power_level": ("--percent 100 --produce", "power_level", {"power": 0xFF}),
    "present_price": ("--ratio 2", "present_price", {"price": 0x65}),
    "next_price": ("--ratio 4", "next_price", {"price": 0x99}),
    "grid_guidance": ("--guidance good", "grid_guidance", {"guidance": 2}),
    "comm_status": ("--status poor", "comm_status", {"status": 2}),
    "op_state": ("--state idle_opted_out", "op_state", {"state": 11}),
    "app_ack": ("--opcode load_up", "app_ack", {"opcode": 0x17}),
    "app_nak": ("--reason busy", "app_nak", {"reason": 3}),
    "pending_event_type": ("--opcode critical_peak", "pending_event_type", {"opcode": 0x0A}),
    "customer_override": ("--on", "customer_override", {"override": 1}),
    "time_sync": ("--weekday sat --hour 23", "time_sync", {"timesync": 6 << 5 | 23}),
    "op_state_query": ("", "op_state_query", {"op2": 0}),
    "sleep": ("", "sleep", {"op2": 0}),
    "wake": ("", "wake", {"op2": 0}),
    "reboot": ("", "reboot", {"op2": 0}),
    "advanced_load_up": (
        "--duration-min 90 --value 12 --units 10Wh",
        "advanced_load_up",
        {"duration_min": 90, "value": 12, "units": 1},
    ),  # fmt: skip
    "get_information": ("", "get_information", {}),
    "commodity_read": ("--commodity 7", "commodity_read", {"commodity": 7}),
    "utc_time": ("--utc 946684800 --tz-hours 1 --dst-hours 0.5", "utc_time", {"utc": 0, "tz": 4, "dst": 2}),
    "mtsq": ("--type commissioning", "type_supported_query", {}),
    "max_payload_query": ("", "max_payload_query", {"op2": 0}),
    "max_payload": ("--bytes 4096", "max_payload", {"code": 13}),
    "power_mode": ("--mode 1", "power_mode", {"mode": 1}),
    "bit_rate": ("--rate 0", "bit_rate", {"rate": 0}),
    "set_capability_bit": ("--bit 6 --value 1", "set_capability_bit", {"bit": 6, "value": 1}),
    "energy_price": (
        "--cost 125 --currency 840 --digits 3 --expiry 2000-01-02T00:00:00Z",
        "energy_price",
        {"cost": 125, "currency": 840, "digits": 3, "expiry": 86400},
    ),  # fmt: skip
    "tier": ("", "tier", {}),
    "temperature_offset": ("--offset -2 --temp-units F", "temperature_offset", {"offset": -2, "temp_units": 0}),
    "setpoint": (
        "--device-type water_heater_heat_pump --temp-units C --setpoint1 50",
        "setpoint",
        {"device_type": 3, "temp_units": 1, "setpoint1": 50},
    ),  # fmt: skip
    "present_temperature": ("", "present_temperature", {}),
    "cycling_start": (
        "--event-id 7 --start 2000-01-01T00:01:00Z --duration-min 30 --duty 50",
        "cycling_start",
        {"event_id": 7, "start": 60, "duration_min": 30, "duty": 50},
    ),  # fmt: skip
    "cycling_terminate": ("--event-id 7 --end-rand 3", "cycling_terminate", {"event_id": 7, "end_rand": 3}),
    "commodity_subscription": ("", "commodity_subscription", {}),
}

# every Intermediate kind's reply: options -> expected fields (a subset of the decoded ones)
REPLY_CASES = {
    "get_information": (
        "--version A --vendor-id 0x7fff --device-type water_heater_heat_pump --revision 1 --capability 64 "
        "--reserved 0 --model HPWH-50 --serial 123 --fw-year 24 --fw-month 4 --fw-day 12 --fw-major 1 --fw-minor 3",
        {"rc": 0, "vendor_id": 0x7FFF, "device_type": 3, "model": "HPWH-50", "serial": "123", "fw_month": 4},
    ),
    "set_capability_bit": ("--rc bad_value", {"rc": 2}),
    "utc_time": ("--utc 2000-01-01T01:00:00Z --tz-hours -5", {"rc": 0, "utc": 3600, "tz": -20, "dst": 0}),
    "energy_price": ("--cost 7 --currency 978 --digits 0", {"rc": 0, "cost": 7, "currency": 978, "digits": 0}),
    "tier": ("--rc not_implemented", {"rc": 1}),
    "temperature_offset": ("--offset 3 --temp-units C", {"rc": 0, "offset": 3, "temp_units": 1}),
    "setpoint": (
        "--device-type 3 --temp-units F --setpoint1 120 --setpoint2 110",
        {"rc": 0, "device_type": 3, "setpoint1": 120, "setpoint2": 110},
    ),
    "present_temperature": ("--device-type 3 --temp-units F --temperature 118", {"rc": 0, "temperature": 118}),
    "cycling_start": ("", {"rc": 0}),
    "cycling_terminate": ("--rc busy", {"rc": 5}),
    "commodity_read": (
        "--record 0:450:1200 --record 6:0:12000:estimated",
        {
            "rc": 0,
            "records": [
                {"code": 0, "measured": True, "rate": 450, "cumulative": 1200},
                {"code": 6, "measured": False, "rate": 0, "cumulative": 12000},
            ],
        },
    ),
    "commodity_subscription": ("--rc customer_override", {"rc": 7}),
    "advanced_load_up": ("--duration-min 30 --value 5 --units kWh", {"rc": 0, "duration_min": 30, "value": 5}),
}


def test_every_kind_has_a_round_trip_case():
    assert set(KIND_CASES) == set(cli.KINDS)


def test_every_intermediate_kind_has_a_reply_case():
    assert set(REPLY_CASES) == {k for k in rows(cli.KINDS, 30) if cli.KINDS[k].reply is not None}


@pytest.mark.parametrize("kind", sorted(REPLY_CASES))
def test_encode_reply_round_trip(kind):
    options, fields = REPLY_CASES[kind]
    f, _ = encoded(kind, "--reply", *options.split())
    m = decode(f)
    assert (m.name, m.reply, m.checksum_ok) == (kind, True, True)
    for k, v in fields.items():
        assert m.fields[k] == v, (k, m.fields)
    assert "extra" not in m.fields


def test_every_table_kind_is_an_encode_kind():
    from cta2045.message import DATALINK, INTERMEDIATE

    kinds = {e.split(":")[0] for e in BASIC + DATALINK if e != "-"} | {e[0] for e in INTERMEDIATE.values()}
    assert rows(sorted(kinds), 35) and kinds <= set(cli.KINDS)


def test_set_commodity_read_and_the_get_forms():
    f, note = encoded("commodity_read", "--record", "0:1:2")
    m = decode(f)
    assert m.name == "commodity_read" and not m.reply and m.fields["records"][0]["cumulative"] == 2
    assert "record 0 = electricity_consumed" in note
    assert encoded("setpoint", "--get")[0] == build(0x0802, h("03 03"))
    assert encoded("setpoint")[0] == encoded("setpoint", "--get")[0]  # no options: the Get form
    assert decode(encoded("utc_time")[0]).fields["utc"] > 0  # ... unless its fields have defaults (now)


def test_every_basic_dr_opcode_is_an_encode_kind():
    basic_names = set()
    for op in range(1, 256):
        m = decode(build(0x0801, bytes((op, 0))))
        if m.name != "unknown_opcode":
            basic_names.add(m.name)
    assert len(basic_names) == 22
    assert basic_names <= set(cli.KINDS)


@pytest.mark.parametrize("kind", sorted(KIND_CASES))
def test_encode_round_trip(kind):
    options, name, fields = KIND_CASES[kind]
    f, _ = encoded(kind, *options.split())
    m = decode(f)
    assert m.checksum_ok is True
    assert m.name == name
    for k, v in fields.items():
        assert m.fields[k] == v, (k, m.fields)
    # and through the decode side of the tool
    (e,) = decoded(f.hex())
    assert e["event"] == "frame" and e["name"] == name and e["hex"] == f.hex()


def test_mtsq_type_is_kept():
    f, _ = encoded("mtsq", "--type", "commissioning")
    assert f == build(0x0804)
    f, _ = encoded("mtsq", "--type", "0x0901")
    assert f[:4] == h("09 01 00 00")


# --- encoding: bad values


@pytest.mark.parametrize(
    "argv,fragment",
    [
        ("power_level --percent 150", "--percent: 150 out of range 0..100"),
        ("power_level --percent -1", "--percent"),
        ("power_level", "required: --percent"),
        ("shed --duration-s -5", "duration must be >= 0"),
        ("shed --duration-s abc", "not a number"),
        ("shed --duration-s nan", "not a finite number"),
        ("shed --duration-code 256", "256 out of range 0..255"),
        ("shed --duration-s 600 --duration-code 3", "not allowed with"),
        ("present_price --ratio -1", "--ratio"),
        ("time_sync --weekday 7 --hour 1", "--weekday: 7 out of range 0..6"),
        ("time_sync --weekday mon --hour 24", "--hour: 24 out of range 0..23"),
        ("time_sync --hour 3", "give --weekday and --hour"),
        ("time_sync --now --hour 3", "not both"),
        ("utc_time --utc 1999-12-31T23:59:59Z", "--utc must be between 2000-01-01"),
        ("utc_time --utc yesterday", "--utc"),
        ("utc_time --utc now --tz-hours 0.3", "multiple of 0.25"),
        ("utc_time --utc now --tz-hours 40", "--tz-hours out of range"),
        ("utc_time --utc now --dst-hours -1", "--dst-hours out of range"),
        ("utc_time --get --utc now", "--get takes no other options"),
        ("advanced_load_up --duration-min 60 --value 70000", "--value: 70000 out of range 0..65535"),
        ("advanced_load_up --duration-min 65536 --value 1", "--duration-min"),
        ("advanced_load_up --duration-min 60 --value 1 --units MWh", "--units"),
        ("advanced_load_up --duration-min 60 --value 1 --units 256", "--units"),
        ("advanced_load_up --duration-min 60 --value 5 --event-id 3", "--event-id needs --efficiency"),
        ("advanced_load_up --value 5", "give --duration-min and --value"),
        ("advanced_load_up --get --value 5", "--get takes no other options"),
        ("advanced_load_up --get --probe", "not allowed with"),
        ("app_ack --opcode bogus", "--opcode"),
        ("app_ack --opcode 256", "256 out of range 0..255"),
        ("app_nak", "required: --reason"),
        ("grid_guidance --guidance great", "--guidance"),
        ("comm_status --status 300", "--status"),
        ("customer_override", "one of the arguments --on --off is required"),
        ("customer_override --on --off", "not allowed with"),
        ("commodity_read --commodity -1", "--commodity"),
        ("mtsq --type nonsense", "--type"),
        ("mtsq", "required: --type"),
        ("max_payload --bytes 100", "--bytes must be one of"),
        ("max_payload --code 300", "--code"),
        ("max_payload", "one of the arguments --code --bytes is required"),
        ("nosuchkind", "invalid choice"),
        ("get_information --rc 0", "--rc is only in the reply (add --reply)"),
        ("commodity_read --reply --commodity 3", "--commodity is only in the request (without --reply)"),
        ("get_information --reply --version A", "--version needs --vendor-id and --device-type"),
        ("setpoint --reply --setpoint2 3", "--setpoint2 needs --device-type"),
        ("setpoint --get --reply", "not allowed with"),
        ("setpoint --temp-units X --device-type 3 --setpoint1 1", "--temp-units"),
        ("setpoint --device-type 3 --temp-units F --setpoint1 40000", "--setpoint1: 40000 out of range"),
        ("get_information --reply --model " + "x" * 17, "at most 16"),
        ("commodity_read --reply --record 1:2", "CODE:RATE:CUMULATIVE"),
        ("commodity_read --record 1:2:3 --commodity 1", "not both"),
        ("", "required: KIND"),
        ("shed --bogus", "unrecognized arguments: --bogus"),
    ],
)
def test_encode_bad_values(argv, fragment):
    assert_usage_error(*run("encode", *argv.split()), fragment)


def test_encode_notes_for_undefined_values():
    # a raw byte outside the named values is sent (useful to test a peer) with a note
    f, note = encoded("max_payload", "--code", "14")
    assert f[4:6] == b"\x19\x0e" and "not a defined payload size" in note
    f, note = encoded("app_nak", "--reason", "9")
    assert f[4:6] == b"\x04\x09" and "not a defined value" in note


def test_encode_error_lines_exactly():
    assert run("encode", "power_level", "--percent", "150") == (
        2,
        "",
        "decode.py: error: encode power_level: argument --percent: 150 out of range 0..100 (see --help)\n",
    )
    assert run("encode", "advanced_load_up", "--duration-min", "60", "--value", "5", "--event-id", "3") == (
        2,
        "",
        "decode.py: error: encode advanced_load_up: --event-id needs --efficiency"
        " (the optional fields are positional)\n",
    )
    assert run("zz") == (2, "", "decode.py: error: not hex: 'zz' (bad character 'z' at digit 1)\n")
