# pytest set-up: the codec and the tools import the way they do on a device and from
# the command line (lib/ and the portable test helpers on sys.path).
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(ROOT, "lib"), os.path.join(ROOT, "tools"), os.path.join(ROOT, "host_tests", "portable"),
          os.path.join(ROOT, "firmware"), os.path.join(ROOT, "boards", "common")):
    if p not in sys.path:
        sys.path.insert(0, p)
