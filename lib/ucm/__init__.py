# The UCM engine: the CTA-2045 link layer (ACK/NAK, timers, retries, negotiation) and the
# UCM's application behaviour (start-up, heartbeat, polling, unsolicited SGD messages, the
# command queue, the SGD's state), over an injected byte port and clock.
#   ucm.settings  Settings: every protocol timer and policy, defaults from lib/cta2045/PROTOCOL.md
#   ucm.link      LinkLayer: sans-IO link layer, driven by feed(data, now) / poll(now)
#   ucm.engine    Engine: the application on top of the link layer, and the SGD's state
#   ucm.runner    Ucm: the asyncio driver over a byte port, used by the firmware
#   ucm.commands  every command the owner can send, its arguments and their one check
#   ucm.clock     the one clock shim (ticks_ms, ticks_diff, sleep_ms)

# The one version of the project (codec, engine, firmware, package.json, the
# GetInformation reply): "major.minor.patch", and the day it was released.
__version__ = "0.3.0"
RELEASED = (2026, 12, 4)
