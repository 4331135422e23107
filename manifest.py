# MicroPython manifest: freezes the firmware into your own MicroPython build, e.g.
#   cd micropython/ports/rp2
#   make BOARD=RPI_PICO_W FROZEN_MANIFEST=/path/to/cta2045-ucm/manifest.py
#   cd micropython/ports/esp32
#   UCM_BOARD=esp32 make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/cta2045-ucm/manifest.py
# Environment:
#   UCM_BOARD      the board folder of boards/ (pico_w, esp32); default pico_w
#   MICRODOT_DIR   the folder that holds Microdot's package folder microdot/ (the pinned
#                  Microdot 2.7.0: after `make setup`, .venv/lib/python3.X/site-packages,
#                  which is used when MICRODOT_DIR is not set; or src/ of a Microdot
#                  checkout; the microdot/ folder itself is accepted too)
#   UCM_BASE_MANIFEST  the manifest included first (default the board's own,
#                  $(BOARD_DIR)/manifest.py, where it has one, else the port's,
#                  $(PORT_DIR)/boards/manifest.py: asyncio and the port's modules)
# Frozen: what `make deploy` copies, under the same names, from the one description of the
# device's file layout (tools/deploy.py files()): lib/cta2045, lib/ucm, lib/ninebit
# (without the host-only modules), firmware/*.py, boards/common and boards/<UCM_BOARD> as
# flat modules, Microdot's modules, adafruit_pioasm where the board imports it, and
# firmware/main.py as the module ucm_main (a copy in build/freeze/, since a frozen module
# takes its file's name). The board still needs, on its filesystem, the 2-line /main.py
# (import ucm_main / ucm_main.main()), the page /www/index.html.gz and the set-up form
# /www/setup.html (make deploy writes them; README: Freezing). Manifests run with this
# file's folder as the current directory; relative paths below are relative to it.

import glob
import os
import sys

sys.path.insert(0, os.path.abspath("tools"))
import deploy  # noqa: E402  (the layout; standard library only)

_board = os.environ.get("UCM_BOARD") or "pico_w"
_boards = deploy.boards()
if _board not in _boards:
    raise ValueError("UCM_BOARD=%s: no such board (boards/: %s)" % (_board, ", ".join(_boards)))


def _microdot_dir():
    d = os.environ.get("MICRODOT_DIR")
    if not d:
        found = sorted(glob.glob(os.path.join(".venv", "lib", "python3*", "site-packages")))
        found = [p for p in found if os.path.isfile(os.path.join(p, "microdot", "microdot.py"))]
        if not found:
            raise ValueError(
                "set MICRODOT_DIR to the folder that holds microdot/ (pip install microdot==2.7.0, or run make "
                "setup here)"
            )
        d = found[-1]
    d = os.path.abspath(d)
    if os.path.isfile(os.path.join(d, "microdot.py")) and os.path.basename(d) == "microdot":
        d = os.path.dirname(d)  # the package folder itself was given
    if not os.path.isfile(os.path.join(d, "microdot", "microdot.py")):
        raise ValueError("MICRODOT_DIR=%s holds no microdot/microdot.py" % d)
    return d


# The board's own manifest where it has one (RPI_PICO_W's adds ssl, mip, requests,
# webrepl, aioble... on top of the port's), else the port's
if os.environ.get("UCM_BASE_MANIFEST"):
    include(os.environ["UCM_BASE_MANIFEST"])  # noqa: F821
else:
    try:
        include("$(BOARD_DIR)/manifest.py")  # noqa: F821
    except Exception:  # the board has none (manifestfile raises for a missing file)
        include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821
# boards/common/ucm_device.py sets the clock from NTP (micropython-lib's ntptime)
require("ntptime")  # noqa: F821

try:
    _items = deploy.files(_board, page=False, microdot=os.path.join(_microdot_dir(), "microdot"))
except deploy.DeployError as e:
    raise ValueError(str(e))
_packages = {}  # package -> (base path, files)
_stage = os.path.join("build", "freeze")
for _it in _items:
    if _it.kind != "mpy":
        continue
    _target = _it.dest[len("/lib/") : -len(".mpy")] + ".py"  # its path on the board, as source
    _src = os.path.abspath(_it.src)
    if "/" in _target:  # a package's module: lib/<package>/..., or microdot/
        _pkg = _target.split("/")[0]
        _base = _src[: -len(_target) - 1]
        _packages.setdefault(_pkg, (_base, []))[1].append(_target[len(_pkg) + 1 :])
    elif _src.replace(os.sep, "/").endswith("/" + _target):
        module(_target, base_path=os.path.dirname(_src))  # noqa: F821
    else:  # another name on the board (firmware/main.py is ucm_main): from a copy of that name
        os.makedirs(_stage, exist_ok=True)
        with open(_src, "rb") as _f:
            _text = _f.read()
        _copy = os.path.join(_stage, _target)
        _old = None
        if os.path.isfile(_copy):
            with open(_copy, "rb") as _f:
                _old = _f.read()
        if _old != _text:  # rewritten only when changed: an unchanged copy keeps its time
            with open(_copy, "wb") as _f:
                _f.write(_text)
        module(_target, base_path=_stage)  # noqa: F821
for _pkg in sorted(_packages):
    package(_pkg, files=_packages[_pkg][1], base_path=_packages[_pkg][0])  # noqa: F821
