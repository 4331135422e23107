# The README's config and engine-settings tables against the code's range tables
# (firmware/ucm_config.py KEYS and DEFAULTS, lib/ucm/settings.py): every key is in the
# README with its default and the range the firmware enforces, so the documentation
# cannot drift from what PUT /api/config accepts.

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "firmware"), os.path.join(ROOT, "lib")]

import ucm_config as config  # noqa: E402
import checks  # noqa: E402
import ucm_config_check as config_check  # noqa: E402
from ucm.limits import RANGES  # noqa: E402
from ucm.settings import Settings  # noqa: E402


def _rows(title):
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    i = text.index(title)
    rows = {}
    for line in text[i:].splitlines()[1:]:
        if line.startswith("### ") or line.startswith("## "):
            break
        m = re.match(r"\| `([a-z_.0-9]+)` \|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|", line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return rows


def _range(r, strings):
    if type(r[0]) is str:
        return ", ".join("`%s`" % v for v in r)
    if strings:
        return "%s%d-%d characters" % ("empty or " if r[2:] else "", r[0], r[1])
    return "%s%d-%d" % ("%d or " % r[2] if r[2:] else "", r[0], r[1])


def test_config_table_matches_the_code():
    rows = _rows("### The config file: `ucm.json`")
    for key, r in checks.rows(config_check.KEYS, 15).items():
        if key.startswith("pins."):
            continue
        head, _, tail = key.partition(".")
        default = config.DEFAULTS[head][tail] if tail else config.DEFAULTS[head]
        assert key in rows, key
        shown, rng = rows[key]
        assert rng == _range(r, type(default) is str), (key, rng)
        want = '`""`' if default == "" else "`%s`" % default if type(default) is str else str(default)
        assert shown.startswith(want), (key, shown)
    assert "uart` 0-%d" % config_check.KEYS["pins.uart"][1] in rows["pins"][1]
    assert "0-%d" % config_check.KEYS["pins.gpio"][1] in rows["pins"][1]
    assert set(rows) == {k for k in config_check.KEYS if not k.startswith("pins.")} | {"pins", "settings"}


def test_settings_table_matches_the_code():
    rows = _rows("| setting | default | range | meaning |")
    names = Settings().to_dict()
    assert set(rows) == set(names)
    for name, default in names.items():
        shown, rng = rows[name]
        assert shown == (str(default).lower() if type(default) is bool else str(default)), name
        r = RANGES.get(name)
        assert rng == (_range(r, False) if r else ""), (name, rng)
    for name in Settings._RESTART:
        assert (
            "after a restart" in open(os.path.join(ROOT, "README.md")).read().split("| `%s` |" % name)[1].split("\n")[0]
        )
