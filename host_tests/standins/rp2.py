# PC stand-in for MicroPython's rp2 module, for host tests only (never deployed): state
# machines that record their program, settings and the words put into them; DMA
# channels that a test drives with deliver(), the way the hardware would fill a ring
# from a state machine's RX FIFO; PIO blocks that record removed programs.


class StateMachine:
    made = []

    def __init__(self, id, prog, **kw):
        self.id, self.prog, self.kw = id, prog, kw
        self.on = False
        self.sent = []
        StateMachine.made.append(self)

    def active(self, v=None):
        if v is not None:
            self.on = bool(v)
        return self.on

    def put(self, words):
        assert self.on
        self.sent.append(list(words))

    def tx_fifo(self):
        return 0


class DMA:
    channels = []

    def __init__(self):
        self.channel = len(DMA.channels) + 3
        DMA.channels.append(self)
        self.on = False
        self.closed = False

    def pack_ctrl(self, **kw):
        return dict(kw)

    def config(self, read=None, write=None, count=None, ctrl=None, trigger=False):
        self.read, self.write, self.count, self.ctrl = read, write, count, ctrl
        self.reload = count

    def active(self, v=None):
        if v is not None:
            self.on = bool(v)
        return self.on

    def close(self):
        self.closed = True

    def deliver(self, port, words, shift):
        """As the hardware would: each word (as the state machine pushed it, shifted
        right by `shift` into the upper FIFO halfword) into the port's ring at the write
        address, which wraps within 2**ring_size bytes; restarts after count."""
        size = 1 << self.ctrl["ring_size"]
        for v in words:
            port._mem[(self.write - RAM) // 2] = v << shift
            self.write = (self.write & ~(size - 1)) | ((self.write + 2) & (size - 1))
            self.count -= 1
            if self.count == 0:  # chained to the dummy, which chains back: restart
                self.count = self.reload


class PIO:
    OUT_LOW = 2
    OUT_HIGH = 3
    removed = []

    def __init__(self, i):
        self.i = i

    def remove_program(self, prog):
        PIO.removed.append((self.i, prog))


RAM = 0x20001010  # where uctypes.addressof puts every buffer (not aligned to 1 KB)
FIFO = 0x50200020  # PIO0's RX FIFO registers, one word a state machine


def reset():
    del StateMachine.made[:]
    del DMA.channels[:]
    del PIO.removed[:]
