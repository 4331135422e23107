# Puts boards/esp32 on the module path for the tests of its 9-bit UART port.
import os
import sys

_p = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "boards", "esp32")
if _p not in sys.path:
    sys.path.append(_p)
