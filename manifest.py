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
# Frozen: lib/cta2045, lib/ucm, lib/ninebit (without the host-only modules), firmware/*.py,
# boards/common and boards/<UCM_BOARD> (flat modules, as make deploy lays them out),
# Microdot's __init__ and microdot, and firmware/main.py as the module ucm_main (a copy in
# build/freeze/, since a frozen module takes its file's name). The board still needs, on its
# filesystem, the 2-line /main.py (import ucm_main / ucm_main.main()), the page
# /www/index.html.gz and the set-up form /www/setup.html (make deploy writes them; README:
# Freezing). Manifests run with this file's folder as the current directory; relative paths
# below are relative to it.

import glob
import os

_board = os.environ.get("UCM_BOARD") or "pico_w"
_boards = sorted(
    d
    for d in os.listdir("boards")
    if os.path.isfile(os.path.join("boards", d, "board.py")) and d not in ("host", "common")
)
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


def _py(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".py"))


# The board's own manifest where it has one (RPI_PICO_W's adds ssl, mip, requests,
# webrepl, aioble... on top of the port's), else the port's
if os.environ.get("UCM_BASE_MANIFEST"):
    include(os.environ["UCM_BASE_MANIFEST"])  # noqa: F821
else:
    try:
        include("$(BOARD_DIR)/manifest.py")  # noqa: F821
    except Exception:  # the board has none (manifestfile raises for a missing file)
        include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821
# boards/common/device.py sets the clock from NTP (micropython-lib's ntptime)
require("ntptime")  # noqa: F821

# the modules only the host board imports stay out, as in make deploy (tools/deploy.py
# HOST_ONLY; test_packaging checks that both freeze and copy the same files)
_HOST_ONLY = ("ucm/trace.py", "ninebit/capture.py")
for _pkg in ("cta2045", "ucm", "ninebit"):
    _files = [n for n in _py(os.path.join("lib", _pkg)) if _pkg + "/" + n not in _HOST_ONLY]
    package(_pkg, files=_files, base_path="lib")  # noqa: F821

for _name in _py("firmware"):
    if _name != "main.py":
        module(_name, base_path="firmware")  # noqa: F821
# firmware/main.py is imported as ucm_main: frozen from a copy of that name
_stage = os.path.join("build", "freeze")
os.makedirs(_stage, exist_ok=True)
with open(os.path.join("firmware", "main.py"), "rb") as _f:
    _text = _f.read()
_copy = os.path.join(_stage, "ucm_main.py")
_old = None
if os.path.isfile(_copy):
    with open(_copy, "rb") as _f:
        _old = _f.read()
if _old != _text:  # rewritten only when changed: an unchanged copy keeps its time
    with open(_copy, "wb") as _f:
        _f.write(_text)
module("ucm_main.py", base_path=_stage)  # noqa: F821

for _folder in (os.path.join("boards", "common"), os.path.join("boards", _board)):
    if os.path.isdir(_folder):
        for _name in _py(_folder):
            module(_name, base_path=_folder)  # noqa: F821

package("microdot", files=["__init__.py", "microdot.py"], base_path=_microdot_dir())  # noqa: F821
if _board == "pico_w":
    # the PIO driver assembles its programs on the board (boards/pico_w/pio9.py); the
    # pinned adafruit-circuitpython-pioasm installs it beside Microdot
    module("adafruit_pioasm.py", base_path=_microdot_dir())  # noqa: F821
