# PC stand-in for MicroPython's `machine` module, for host tests only (never deployed):
# pins that remember every level change, a UART joined to a test peer that records
# the DE pin's level at every byte it sends, a watchdog that counts feeds. Times come
# from a virtual microsecond clock (now_us) that only the UART's transmission and
# sleep_us advance, so DE timing can be checked exactly.

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

state = {"reset_cause": PWRON_RESET, "resets": 0}
_clock = [0]
pins = {}  # id -> the last Pin made for it
uarts = []
wdts = []
timers = []


def now_us():
    return _clock[0]


def advance_us(us):
    _clock[0] += int(us)


def reset_cause():
    return state["reset_cause"]


def reset():
    state["resets"] += 1


def unique_id():
    return b"\xe6\x61\x41\x04\x03\x2b\x2e\x22"


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.level = value or 0
        self.history = [(now_us(), self.level)]
        pins[id] = self

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = 1 if v else 0
        self.history.append((now_us(), self.level))


class UART:
    def __init__(
        self,
        id,
        baudrate=9600,
        bits=8,
        parity=None,
        stop=1,
        tx=None,
        rx=None,
        rxbuf=256,
        timeout=0,
        timeout_char=0,
        **kw,
    ):
        self.id = id
        self.kw = dict(
            baudrate=baudrate,
            bits=bits,
            parity=parity,
            stop=stop,
            tx=tx,
            rx=rx,
            rxbuf=rxbuf,
            timeout=timeout,
            timeout_char=timeout_char,
        )
        self.char_us = 10 * 1000000 // baudrate
        self.inbox = bytearray()  # received, not yet read
        self.closed = False
        self.peer = None  # an object with .inbox (bytearray) and .closed: the bus
        self.watch = None  # a Pin whose level is recorded with every byte sent (DE)
        self.early_flush = False  # flush() returns before the last stop bit (ESP32)
        self.echo = False  # what is sent also arrives here (auto-direction transceiver)
        self.pending = bytearray()
        self.sent = []  # (byte, watched level at its start bit, start us, end us)
        self.busy_until = 0  # end of the last stop bit on the wire
        self.fail_reads = 0  # the next n readinto calls raise OSError
        self.parities = []  # the parity setting each byte went out with
        self.inits = 0  # init() calls after the constructor
        uarts.append(self)

    def init(self, **kw):
        # like the ESP32's: waits for the transmitter, then changes only what is given
        self.flush()
        _clock[0] = max(now_us(), self.busy_until)
        self.kw.update(kw)
        self.inits += 1

    def write(self, data):
        self.pending += data
        return len(data)

    def flush(self):
        # the bytes go out one after another; with early_flush the call returns while
        # the last one is still shifting out
        t = max(now_us(), self.busy_until)
        # a character: start, 8 data, the parity bit if any, stop
        self.char_us = (10 + (self.kw["parity"] is not None)) * 1000000 // self.kw["baudrate"]
        for b in self.pending:
            level = self.watch.value() if self.watch is not None else None
            self.sent.append((b, level, t, t + self.char_us))
            self.parities.append(self.kw["parity"])
            t += self.char_us
        data = bytes(self.pending)
        self.pending = bytearray()
        self.busy_until = t
        _clock[0] = t - self.char_us if self.early_flush and data else t
        if self.peer is not None and not self.peer.closed:
            self.peer.inbox += data
        if self.echo:
            self.inbox += data

    def txdone(self):
        return not self.pending and now_us() >= self.busy_until

    def any(self):
        return len(self.inbox)

    def readinto(self, buf):
        if self.fail_reads:
            self.fail_reads -= 1
            raise OSError(5, "stand-in UART read error")
        n = min(len(buf), len(self.inbox))
        if not n:
            return None  # MicroPython: nothing waiting with timeout=0
        buf[:n] = self.inbox[:n]
        del self.inbox[:n]
        return n

    def deinit(self):
        self.closed = True


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        wdts.append(self)

    def feed(self):
        self.feeds += 1


class Timer:
    def __init__(self, id=-1, period=1000, callback=None, **kw):
        self.period = period
        self.callback = callback
        timers.append(self)
