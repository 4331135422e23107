# The 9-bit RS-485 bus on the Pico W's PIO: 19200 baud, 11-bit characters (start bit,
# 8 data bits LSB first, a 9th bit that is 1 on a frame's first byte, stop bit), half
# duplex with the transceiver's DE/RE on a side-set pin.
#   pins: GP0 TX (OUT and SET pin), GP1 RX (IN pin and JMP pin, pulled up), GP2 DE/RE
#   (side-set), as the 8N1 port; state machines 0 (TX) and 1 (RX) of PIO0 (the Wi-Fi
#   chip's driver prefers PIO1).
# The programs are pioasm text, their one source: the board assembles them at start-up
# with adafruit_pioasm (pure Python; deployed to /lib) and to_rp2() turns the result
# into what rp2.StateMachine takes. The host tests assemble the same text and run it in
# a PIO emulator at the pin level (host_tests/test_pio9.py).
# A symbol (what recv_symbols gives, what write takes as 9-bit words): bits 0-7 the
# byte, FLAG (bit 8) the 9th bit, FE (bit 9, received only) a framing error: the stop
# bit was 0 (the bits are as sampled; a break reads as one FE symbol with byte 0).
# Receive does not wait for the event loop: DMA moves each character from the RX FIFO
# into a ring in RAM, also while the CPU is busy (GC, a long handler, a flash write).
# The ring holds 512 symbols: at 19200 baud (1745 characters/s) it covers a stall of
# the loop of 293 ms; a longer one overwrites the oldest symbols (counted in overruns).
# Port contract (firmware/ucm_ninebit_bus.py): async recv_symbols(buf), async write_frame(frame).

import array

from ucm.clock import sleep_ms

BAUD = 19200
CYCLES_PER_BIT = 8  # PIO clock = 8 * baud
CHAR_BITS = 11
PINS = {"tx": 0, "rx": 1, "de": 2}
SM_TX = 0
SM_RX = 1
FLAG = 0x100
FE = 0x200
RAW_SHIFT = 22  # the RX program's pushed word holds the 9 bits and the stop marker in bits 22-31
RING_BITS = 9  # 512 symbols
POLL_MS = 2  # while waiting for symbols
COUNT = 1 << 29  # DMA transfers per sequence: a multiple of the ring, and a small int
OUT_LOW = 2  # rp2.PIO.OUT_LOW / OUT_HIGH: a pin's initial direction and level
OUT_HIGH = 3

# TX, 8 cycles a bit. DE goes high one bit before the first start bit, stays high while
# words keep coming (each start bit follows the previous stop bit with no gap) and drops
# right after the last stop bit: after the bit loop X is all ones, which no 9-bit word
# equals, and "pull noblock" on an empty FIFO copies X. Side-set on every instruction
# (no opt). OUT shifts right: the byte LSB first, then the 9th bit.
TX_PIO = """
.program ninebit_tx
.side_set 1
.out 1 right
.fifo tx
.wrap_target
 pull block side 0      ; idle, DE low
 nop side 1 [7]
start:
 set pins, 0 side 1 [6] ; start bit
 set x, 8 side 1
bit:
 out pins, 1 side 1 [6]
 jmp x-- bit side 1
 set pins, 1 side 1 [4] ; stop bit
 pull noblock side 1
 mov y, osr side 1
 jmp x!=y start side 1
.wrap
"""

# RX, 8 cycles a bit. A falling edge starts a character if the line is still low 3
# cycles later (a shorter low pulse is ignored). Each bit is sampled 3 cycles in (3/8
# to 1/2 of the bit, by the edge's phase): the byte LSB first, the 9th bit, then the
# stop bit decides the marker: 1 (X, all ones after the loop) when high; 0 when low, a
# framing error, and the line must return to idle before the next start bit. Autopush
# of 10 bits shifted right: the character is bits 22-31 of the word, the marker bit 31.
RX_PIO = """
.program ninebit_rx
.in 32 right auto 10
.fifo rx
.wrap_target
start:
 wait 0 pin 0 [2]
 jmp pin start ; a glitch
 set x, 8 [6]
bit:
 in pins, 1 [6]
 jmp x-- bit
 jmp pin good  ; the stop bit
 in null, 1
 wait 1 pin 0
 jmp start
good:
 in x, 1
.wrap
"""


def program_fields():
    """How many fields the running MicroPython's rp2.asm_pio program list has: 9 since
    MicroPython 1.26 (offsets in PIO0, PIO1 and PIO2), 8 before (no PIO2 offset). Asked
    of rp2 itself; 9 where there is no rp2 (a PC)."""
    try:
        from rp2 import PIOASMEmit

        return len(PIOASMEmit().prog)
    except (ImportError, AttributeError, TypeError):
        return 9


def to_rp2(text, out_init=None, set_init=None, sideset_init=None, fields=None):
    """Assemble pioasm text with adafruit_pioasm into the list rp2.asm_pio makes and
    rp2.StateMachine(id, program, ...) takes:
      [array('H') opcodes, -1, -1, -1 (its offsets in PIO0, PIO1 and PIO2, set by rp2),
       EXECCTRL, SHIFTCTRL, out_init, set_init, sideset_init]
    fields: the list's length, 9 (MicroPython >= 1.26) or 8 (before it, no PIO2
    offset); None asks the running rp2 (program_fields()).
    EXECCTRL: side-set opt bit 30, side-set pindirs 29, wrap top 12-16, wrap target 7-11.
    SHIFTCTRL: FIFO join 30-31 (.fifo tx 1, rx 2), pull threshold 25-29 and push
    threshold 20-24 (32 is 0), OUT and IN shift right 19 and 18 (right unless .out/.in
    say left, as in pioasm), autopull 17, autopush 16.
    The *_init are pin settings (OUT_LOW, OUT_HIGH, or a tuple of them for several
    pins); the side-set pins must be as many as the program's .side_set."""
    from adafruit_pioasm import Program

    fields = fields or program_fields()
    if fields not in (8, 9):
        raise ValueError("rp2 program list of %d fields" % fields)
    p = Program(text)
    k = p.pio_kwargs.get
    n = 0 if sideset_init is None else 1 if isinstance(sideset_init, int) else len(sideset_init)
    if k("pio_version") or n != k("sideset_pin_count", 0):
        raise ValueError("side-set pins or PIO version")
    execctrl = (
        k("sideset_enable", 0) << 30
        | k("sideset_pindirs", 0) << 29
        | k("wrap", len(p.assembled) - 1) << 12
        | k("wrap_target", 0) << 7
    )
    shiftctrl = (
        {"tx": 1, "rx": 2}.get(k("fifo_type"), 0) << 30
        | (k("pull_threshold", 32) & 31) << 25
        | (k("push_threshold", 32) & 31) << 20
        | k("out_shift_right", 1) << 19
        | k("in_shift_right", 1) << 18
        | k("auto_pull", 0) << 17
        | k("auto_push", 0) << 16
    )
    return [p.assembled] + [-1] * (fields - 6) + [execctrl, shiftctrl, out_init, set_init, sideset_init]


class Pio9Port:
    def __init__(self, tx=0, rx=1, de=2, baud=BAUD, sm_tx=SM_TX, sm_rx=SM_RX, ring_bits=RING_BITS):
        import sys
        from machine import Pin
        from rp2 import DMA, StateMachine
        from uctypes import addressof

        f = baud * CYCLES_PER_BIT
        self._de = de
        ptx = to_rp2(TX_PIO, OUT_HIGH, OUT_HIGH, OUT_LOW)
        prx = to_rp2(RX_PIO)
        sys.modules.pop("adafruit_pioasm", None)  # needed only to assemble: free its RAM
        self._progs = ((sm_tx >> 2, ptx), (sm_rx >> 2, prx))
        self.tx = StateMachine(sm_tx, ptx, freq=f, out_base=Pin(tx), set_base=Pin(tx), sideset_base=Pin(de))
        pin = Pin(rx, Pin.IN, Pin.PULL_UP)
        self.rx = StateMachine(sm_rx, prx, freq=f, in_base=pin, jmp_pin=pin)
        # The ring: 2**ring_bits 16-bit symbols, aligned to its size for the DMA's
        # address wrap, inside an allocation twice as large.
        size = 1 << ring_bits
        self._mem = array.array("H", bytes(4 * size))
        a = addressof(self._mem)
        base = (a + 2 * size - 1) & ~(2 * size - 1)
        self._off = (base - a) >> 1
        self._mask = size - 1
        self._tail = self._pending = self._done = 0
        self._txbuf = array.array("H", bytes(128))
        self.rx_symbols = self.tx_symbols = self.framing_errors = self.overruns = 0
        # Channel d reads the upper half of each RX FIFO word (the character << 6) into
        # the ring, paced by the state machine's DREQ; after COUNT transfers it chains
        # to r, a one-word dummy move that chains back and so restarts d: no end.
        self._one = array.array("I", [0])
        d = self._dma = DMA()
        r = self._re = DMA()
        d.config(
            read=addressof(self.rx) + 2,
            write=base,
            count=COUNT,
            ctrl=d.pack_ctrl(
                size=1,
                inc_read=False,
                ring_size=ring_bits + 1,
                ring_sel=True,
                treq_sel=(sm_rx >> 2) * 8 + 4 + (sm_rx & 3),
                chain_to=r.channel,
            ),
        )
        r.config(
            read=self._one,
            write=self._one,
            count=1,
            ctrl=r.pack_ctrl(inc_read=False, inc_write=False, chain_to=d.channel),
        )
        d.active(1)
        self.rx.active(1)
        self.tx.active(1)

    def take(self, buf):
        """Copy the symbols received so far (at most len(buf)) into buf, an array('H');
        return how many. Does not wait."""
        done = COUNT - self._dma.count  # transfers of this sequence: ring position
        p = self._pending + (done - self._done) % COUNT
        self._done = done
        m = self._mask
        if p > m + 1:  # the DMA went round the ring past unread symbols
            self.overruns += p - m - 1
            p = m + 1
            self._tail = done & m
        n = min(p, len(buf))
        mem = self._mem
        off = self._off
        t = self._tail
        sh = RAW_SHIFT - 16
        fe = 0
        for i in range(n):
            s = (mem[off + t] >> sh) ^ FE  # marker 1 (stop bit high) -> FE clear
            buf[i] = s
            fe += s >> 9
            t = (t + 1) & m
        self._tail = t
        self._pending = p - n
        self.rx_symbols += n
        self.framing_errors += fe
        return n

    async def recv_symbols(self, buf, timeout_ms=1000):
        """Wait for symbols, copy them into buf (array('H')), return how many; 0 after
        about timeout_ms without any (so a reading loop shows progress on a quiet line)."""
        waited = 0
        while True:
            n = self.take(buf)
            if n or waited >= timeout_ms:
                return n
            await sleep_ms(POLL_MS)
            waited += POLL_MS

    async def write(self, data, flag_first=True):
        """Send bytes (the 9th bit set on the first byte when flag_first) or an array('H')
        of 9-bit words as they are. Holds the loop while the 8-word TX FIFO is full (the
        wire time less 8 characters: 32 ms for a 64-byte frame), so that no gap opens
        inside a frame; returns after the last stop bit, with DE low."""
        if isinstance(data, array.array):
            words = data
        else:
            n = len(data)
            if n > len(self._txbuf):
                self._txbuf = array.array("H", bytes(2 * n))
            words = memoryview(self._txbuf)[:n]
            for i in range(n):
                words[i] = data[i]
            if n and flag_first:
                words[0] |= FLAG
        self.tx.put(words)
        self.tx_symbols += len(words)
        while self.tx.tx_fifo():
            await sleep_ms(1)
        await sleep_ms(2)  # the last character (0.57 ms) and DE's drop

    write_frame = write

    def close(self):
        from machine import Pin
        from rp2 import PIO

        self.tx.active(0)
        self.rx.active(0)
        for d in (self._re, self._dma):
            d.ctrl = d.pack_ctrl(enable=False)  # no chained restart
            d.active(0)
            d.close()
        for i, prog in self._progs:  # a port opened again must find room for them
            PIO(i).remove_program(prog)
        Pin(self._de, Pin.OUT, value=0)
