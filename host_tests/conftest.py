# pytest set-up: the codec and the tools import the way they do on a device and from
# the command line (lib/ and the portable test helpers on sys.path).
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (
    os.path.join(ROOT, "lib"),
    os.path.join(ROOT, "tools"),
    os.path.join(ROOT, "host_tests", "portable"),
    os.path.join(ROOT, "firmware"),
    os.path.join(ROOT, "boards", "common"),
):
    if p not in sys.path:
        sys.path.insert(0, p)


def pytest_terminal_summary(terminalreporter):
    # the emulated RP2040's measured figures (heap, DE timing, ACK delays), when it ran
    mod = sys.modules.get("rp2emu")
    if mod is not None and mod.REPORT:
        terminalreporter.section("emulated RP2040: measured")
        for line in mod.REPORT:
            terminalreporter.write_line(line)
