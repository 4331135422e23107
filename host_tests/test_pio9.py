# The Pico W's 9-bit bus driver (boards/pico_w/ucm_pio9.py): its PIO programs, assembled
# from the module's pioasm text with adafruit_pioasm through to_rp2() (the list the
# board gives rp2.StateMachine) and run at the pin level in pioemu (rp2040-pio-emulator):
#   TX: the waveform of known frames decoded cycle by cycle (start bit, 8 data bits LSB
#     first, the 9th bit, stop bit, 8 PIO cycles each) and DE's timing around them;
#   RX: generated waveforms (flagged and plain bytes, back-to-back frames, glitches,
#     framing errors, a break, a sender's clock off by a few per cent);
#   TX looped into RX;
#   to_rp2's register fields; the driver's ring, symbol and write logic against
#     stand-ins for rp2.DMA and rp2.StateMachine; and, where Node.js and the npm
#     MicroPython port are installed, to_rp2 under MicroPython giving the same lists.
# pioemu's ways (they shape the helpers): a delay advances the clock with no states in
# between (traces are expanded per cycle here); inputs are sampled once per
# instruction; IN, WAIT and JMP pin numbers are absolute GPIOs (so RX runs with its
# line on GPIO 0, the program's pin 0); the input source needs a type hint; an opcode
# it cannot emulate ends the run silently (so every run checks it reached its end).
import array
import asyncio
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from collections import deque
from dataclasses import replace

import pytest
from adafruit_pioasm import Program
from pioemu import State, emulate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("pio9", os.path.join(ROOT, "boards", "pico_w", "ucm_pio9.py"))
pio9 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pio9)

TX, DE = pio9.PINS["tx"], pio9.PINS["de"]  # GP0, GP2 as on the board
RX = 0  # the emulator's IN/WAIT/JMP pins are absolute: the RX line is GPIO 0 here
BIT = pio9.CYCLES_PER_BIT
CHAR = pio9.CHAR_BITS * BIT  # 88 cycles
FLAG, FE = pio9.FLAG, pio9.FE
FRAME_A = bytes.fromhex("900090")
FRAME_F = bytes.fromhex("40000205 00b200f9")


def words(frame):
    return [b | (FLAG if i == 0 else 0) for i, b in enumerate(frame)]


def config(prog, **pins):
    """pioemu settings from the list the board loads (to_rp2), not from the text."""
    execctrl, shiftctrl, sideset = prog[-5], prog[-4], prog[-1]
    assert not execctrl >> 30 & 1  # no side-set opt: pioemu cannot model it
    return dict(
        wrap_target=execctrl >> 7 & 31,
        wrap_top=execctrl >> 12 & 31,
        side_set_count=0 if sideset is None else 1,
        shift_isr_right=bool(shiftctrl >> 18 & 1),
        shift_osr_right=bool(shiftctrl >> 19 & 1),
        auto_push=bool(shiftctrl >> 16 & 1),
        auto_pull=bool(shiftctrl >> 17 & 1),
        push_threshold=(shiftctrl >> 20 & 31) or 32,
        pull_threshold=(shiftctrl >> 25 & 31) or 32,
        **pins,
    )


TX_PROG = pio9.to_rp2(pio9.TX_PIO, pio9.OUT_HIGH, pio9.OUT_HIGH, pio9.OUT_LOW)
RX_PROG = pio9.to_rp2(pio9.RX_PIO)
TX_CFG = config(TX_PROG, out_base=TX, out_count=1, set_base=TX, set_count=1, side_set_base=DE)
RX_CFG = config(RX_PROG, jmp_pin=RX)


# --- TX -------------------------------------------------------------------------------


def run_tx(ws, cycles, state=None):
    """Queue the words and run the TX program until clock `cycles`. Returns the TX
    and DE levels per clock (from the state's clock on) and the last state."""
    st = replace(state or State(pin_values=1 << TX), transmit_fifo=deque(ws))
    start = st.clock
    tx, de = [], []
    for before, after in emulate(
        list(TX_PROG[0]), stop_when=lambda op, s: s.clock >= cycles, initial_state=st, **TX_CFG
    ):
        for _ in range(before.clock, after.clock):  # a delay: the levels hold
            tx.append(after.pin_values >> TX & 1)
            de.append(after.pin_values >> DE & 1)
        st = after
    assert st.clock >= cycles and len(tx) == st.clock - start  # not cut short
    return tx, de, st


def decode_tx(tx, de):
    """Characters on the TX trace: [(clock of the start bit, 9-bit value)]. Each bit
    is exactly 8 cycles at one level, the stop bit is 1 and DE is high throughout."""
    out = []
    c = 0
    while c < len(tx):
        if tx[c]:
            c += 1
            continue
        assert c + CHAR <= len(tx), "character cut off at %d" % c
        cells = [tx[c + BIT * k : c + BIT * (k + 1)] for k in range(pio9.CHAR_BITS)]
        assert all(len(set(cell)) == 1 for cell in cells), "a bit is not 8 cycles at %d: %r" % (c, cells)
        bits = [cell[0] for cell in cells]
        assert bits[0] == 0 and bits[10] == 1, "start/stop bit at %d" % c
        assert all(de[c : c + CHAR]), "DE low inside the character at %d" % c
        out.append((c, sum(b << i for i, b in enumerate(bits[1:10]))))
        c += CHAR
    return out


def edges(de):
    return [(c, de[c]) for c in range(1, len(de)) if de[c] != de[c - 1]]


def check_burst(tx, de, ws):
    """One DE burst carrying ws back to back; returns (DE rise, first start, end of
    the last stop bit, DE fall)."""
    chars = decode_tx(tx, de)
    assert [v for _, v in chars] == ws
    starts = [c for c, _ in chars]
    assert all(b - a == CHAR for a, b in zip(starts, starts[1:])), "a gap between characters"
    (rise, r), (fall, f) = edges(de)
    end = starts[-1] + CHAR
    assert (r, f) == (1, 0)
    assert 1 <= starts[0] - rise <= BIT  # DE up before the start bit, by one bit
    assert all(tx[: starts[0]]) and all(tx[end:])  # idle high outside the characters
    assert end <= fall <= end + BIT  # DE drops after the last stop bit, within a bit
    return rise, starts[0], end, fall


def test_tx_frame_waveform():
    ws = words(FRAME_A)
    assert ws == [0x190, 0x000, 0x090]
    tx, de, _ = run_tx(ws, 4 * CHAR)
    rise, first, end, fall = check_burst(tx, de, ws)
    assert (rise, first, fall) == (1, 1 + BIT, end)  # one bit of DE lead; DE drops as the stop bit ends
    # the first byte's 9th bit is 1 and the others' 0, read off the wire
    assert [tx[c + 9 * BIT] for c in range(first, end, CHAR)] == [1, 0, 0]


def test_tx_bit_order_and_patterns():
    ws = [0x155, 0x0AA, 0x1FF, 0x000, 0x101, 0x080, 0x0FE]
    tx, de, _ = run_tx(ws, (len(ws) + 1) * CHAR)
    check_burst(tx, de, ws)
    first = decode_tx(tx, de)[0][0]
    # 0x155 LSB first: start, 1 0 1 0 1 0 1 0, 9th bit 1, stop
    assert [tx[first + BIT * k] for k in range(11)] == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1]


def test_tx_back_to_back_frames_hold_de():
    ws = words(FRAME_A) + words(FRAME_F) + words(FRAME_A)
    tx, de, _ = run_tx(ws, (len(ws) + 2) * CHAR)
    check_burst(tx, de, ws)  # one burst: no DE gap, no idle time between the frames
    assert len(edges(de)) == 2


def test_tx_frames_apart_drop_and_raise_de():
    tx1, de1, st = run_tx(words(FRAME_A), 5 * CHAR)  # the FIFO runs dry: DE drops, then idle
    tx2, de2, st = run_tx(words(FRAME_F), st.clock + 10 * CHAR, st)  # the CPU queues another frame
    tx, de = tx1 + tx2, de1 + de2
    chars = decode_tx(tx, de)
    assert [v for _, v in chars] == words(FRAME_A) + words(FRAME_F)
    (r1, _), (f1, _), (r2, _), (f2, _) = edges(de)
    ends = [c + CHAR for c, _ in chars]
    assert r1 < chars[0][0] and ends[2] <= f1 <= ends[2] + BIT
    assert f1 < r2 and 1 <= chars[3][0] - r2 <= BIT and ends[-1] <= f2 <= ends[-1] + BIT
    assert not any(de[f1:r2]) and all(tx[ends[2] : chars[3][0]])


def test_tx_de_waits_low_while_idle():
    tx, de, st = run_tx([], 3 * CHAR)
    assert not any(de) and all(tx) and st.program_counter == 0  # stalled on pull


# --- RX -------------------------------------------------------------------------------


def line(items, bit=BIT, lead=3 * BIT, tail=3 * CHAR):
    """Per-clock levels of the RX line. items: a 9-bit value (a character with a good
    stop bit), (value, stop_level), ("idle", bits) or ("low", cycles); a sender whose
    bit lasts `bit` cycles (8 +- a few per cent)."""
    segs = []  # (start, end, level)
    t = float(lead)
    for it in items:
        if isinstance(it, int):
            it = (it, 1)
        if it[0] == "idle":
            t += it[1] * bit
            continue
        if it[0] == "low":
            segs.append((t, t + it[1], 0))
            t += it[1]
            continue
        v, stop = it
        for b in [0] + [v >> i & 1 for i in range(9)] + [stop]:
            segs.append((t, t + bit, b))
            t += bit
    levels = [1] * (int(t) + 1 + tail)
    for a, b, level in segs:
        for c in range(math.ceil(a), math.ceil(b)):  # clocks a <= c < b
            levels[c] = level
    return levels


def run_rx(levels):
    """Run the RX program over the levels, taking each pushed word off the FIFO at
    once (as the DMA does). Returns the symbols, converted as the driver does."""
    end = len(levels)

    def source(state: State) -> int:
        return levels[state.clock] << RX if state.clock < end else 1 << RX

    st = State()
    raw = []
    while st.clock < end:
        before = st.clock
        for _, st in emulate(
            list(RX_PROG[0]),
            stop_when=lambda op, s: s.clock >= end or s.receive_fifo,
            initial_state=st,
            input_source=source,
            **RX_CFG,
        ):
            pass
        assert st.clock > before or st.receive_fifo, "the emulation stopped early"
        raw += st.receive_fifo
        st = replace(st, receive_fifo=deque())
    assert all(w & (1 << pio9.RAW_SHIFT) - 1 == 0 for w in raw)  # 10 bits at 22-31, nothing below
    return [(w >> pio9.RAW_SHIFT) ^ FE for w in raw]


def test_rx_flagged_and_plain_bytes():
    ws = [0x190, 0x000, 0x090, 0x0FF, 0x1FF, 0x155, 0x0AA, 0x001, 0x100, 0x080]
    items = []
    for w in ws:
        items += [w, ("idle", 2)]
    assert run_rx(line(items)) == ws


def test_rx_back_to_back_frames():
    ws = words(FRAME_A) + words(FRAME_F) + words(FRAME_A)
    assert run_rx(line(ws)) == ws


@pytest.mark.parametrize("skew", [-0.03, -0.015, 0.015, 0.03])
def test_rx_sender_clock_off(skew):
    # a sender up to 3 % fast or slow, characters back to back, at several phases of
    # the first edge against the PIO clock
    ws = words(FRAME_F) + [0x155, 0x0AA, 0x1FE, 0x001, 0x100, 0x0FF] * 2
    for lead in (24, 24.25, 24.5, 24.75):
        assert run_rx(line(ws, bit=BIT * (1 + skew), lead=lead)) == ws


@pytest.mark.parametrize("cycles", [1, 2, 3])
def test_rx_glitch_shorter_than_3_cycles_is_ignored(cycles):
    assert run_rx(line([("idle", 2), ("low", cycles), ("idle", 3), 0x190, 0x033])) == [0x190, 0x033]


@pytest.mark.parametrize("cycles", [4, 6, 8])
def test_rx_low_pulse_of_half_a_bit_is_a_start_bit(cycles):
    # documented behaviour: a pulse that is still low 3 cycles after its edge is a
    # start bit; the idle line after it reads as all ones: 0xFF with the 9th bit
    assert run_rx(line([("idle", 2), ("low", cycles), ("idle", 12), 0x033])) == [0x1FF, 0x033]


def test_rx_framing_error():
    got = run_rx(line([0x190, (0x0A5, 0), ("idle", 2), 0x1C3, (0x100, 0), ("idle", 1), 0x024]))
    assert got == [0x190, 0x0A5 | FE, 0x1C3, 0x100 | FE, 0x024]


def test_rx_break_is_one_framing_error():
    # the line held low for three characters, then idle: one symbol, byte 0 with FE
    got = run_rx(line([0x190, ("low", 3 * CHAR), ("idle", 1), 0x155, 0x0AA]))
    assert got == [0x190, FE, 0x155, 0x0AA]


def test_rx_idle_line_gives_nothing():
    assert run_rx([1] * (5 * CHAR)) == []


# --- TX into RX -----------------------------------------------------------------------


def test_tx_looped_into_rx():
    ws = words(FRAME_A) + words(FRAME_F) + [0x1FF, 0x000, 0x155] + words(FRAME_A)
    tx, de, _ = run_tx(ws, (len(ws) + 2) * CHAR)
    assert run_rx(tx + [1] * CHAR) == ws


def test_tx_frames_apart_looped_into_rx():
    tx1, _, st = run_tx(words(FRAME_A), 6 * CHAR)
    tx2, _, _ = run_tx(words(FRAME_F), st.clock + 10 * CHAR, st)
    assert run_rx(tx1 + tx2) == words(FRAME_A) + words(FRAME_F)


# --- the programs and to_rp2 ----------------------------------------------------------


def instructions(text):
    out = []
    for ln in text.splitlines():
        ln = ln.split(";")[0].strip()
        if ln and not ln.startswith(".") and not ln.endswith(":"):
            out.append(ln)
    return out


def test_programs_fit_and_use_only_what_the_emulator_models():
    tx, rx = instructions(pio9.TX_PIO), instructions(pio9.RX_PIO)
    assert len(tx) == len(TX_PROG[0]) and len(rx) == len(RX_PROG[0])
    assert len(tx) + len(rx) <= 32  # both in one PIO's instruction memory
    assert all(" side " in i for i in tx)  # side-set on every instruction (no opt)
    assert " opt" not in pio9.TX_PIO
    assert not any("irq" in i.replace(",", " ").split() for i in tx + rx)  # no IRQ, no wait irq


@pytest.mark.parametrize("fields", [8, 9])
@pytest.mark.parametrize("text, init", [(pio9.TX_PIO, (pio9.OUT_HIGH, pio9.OUT_HIGH, pio9.OUT_LOW)), (pio9.RX_PIO, ())])
def test_to_rp2_fields_match_the_assembler(text, init, fields):
    # 8 fields before MicroPython 1.26, 9 since (PIO2's offset); the layout is checked
    # against rp2.asm_pio itself on the emulated RP2040 (test_rp2_emulated.py)
    prog = pio9.to_rp2(text, *init, fields=fields)
    p = Program(text)
    k = p.pio_kwargs
    assert len(prog) == fields and prog[1 : fields - 5] == [-1] * (fields - 6)
    assert list(prog[0]) == list(p.assembled) and prog[0].typecode == "H"
    execctrl, shiftctrl = prog[-5], prog[-4]
    assert execctrl >> 12 & 31 == k.get("wrap", len(p.assembled) - 1) == len(p.assembled) - 1
    assert execctrl >> 7 & 31 == k.get("wrap_target", 0) == 0
    assert execctrl >> 29 == 0  # no side-set opt, no side-set pindirs
    assert execctrl & ~(31 << 12 | 31 << 7) == 0
    assert shiftctrl >> 19 & 1 == k.get("out_shift_right", True)
    assert shiftctrl >> 18 & 1 == k.get("in_shift_right", True)
    assert shiftctrl >> 17 & 1 == k.get("auto_pull", False)
    assert shiftctrl >> 16 & 1 == k.get("auto_push", False)
    assert (shiftctrl >> 20 & 31 or 32) == k.get("push_threshold", 32)
    assert (shiftctrl >> 25 & 31 or 32) == k.get("pull_threshold", 32)
    assert shiftctrl >> 30 == {"tx": 1, "rx": 2}[k["fifo_type"]]
    assert shiftctrl & 0xFFFF == 0
    assert (1 if prog[-1] is not None else 0) == k.get("sideset_pin_count", 0)


def test_to_rp2_settings_of_the_two_programs():
    assert len(TX_PROG) == len(RX_PROG) == 9  # no rp2 here: MicroPython >= 1.26's layout
    tx_exec, tx_shift = TX_PROG[-5], TX_PROG[-4]
    assert TX_PROG[-3:] == [pio9.OUT_HIGH, pio9.OUT_HIGH, pio9.OUT_LOW]  # TX idles high, DE low
    assert tx_shift == 1 << 30 | 1 << 19 | 1 << 18  # TX FIFO joined (8 deep), OSR shifts right
    assert tx_exec == 9 << 12
    assert RX_PROG[-3:] == [None, None, None]
    assert RX_PROG[-4] == 2 << 30 | 10 << 20 | 1 << 19 | 1 << 18 | 1 << 16  # RX FIFO joined, autopush 10
    assert RX_PROG[-5] == 9 << 12


def test_to_rp2_defaults_and_checks():
    prog = pio9.to_rp2(".program p\nset pins, 1\nnop\n.wrap_target\njmp 2\n", set_init=pio9.OUT_LOW)
    assert list(prog[0]) == [0xE001, 0xA042, 0x0002]
    assert prog[-5] == 2 << 12 | 2 << 7
    assert prog[-4] == 1 << 19 | 1 << 18  # shift right both ways, thresholds 32 (as 0), no join
    assert prog[-2] == pio9.OUT_LOW
    with pytest.raises(ValueError):
        pio9.to_rp2(pio9.RX_PIO, fields=10)
    with pytest.raises(ValueError):
        pio9.to_rp2(pio9.TX_PIO)  # .side_set 1 but no side-set pin given
    with pytest.raises(ValueError):
        pio9.to_rp2(pio9.RX_PIO, sideset_init=pio9.OUT_LOW)
    two = pio9.to_rp2(".side_set 2 opt\nnop side 3\n", sideset_init=(pio9.OUT_LOW, pio9.OUT_LOW))
    assert two[-5] >> 30 & 1 == 1 and two[0][0] == 0xA042 | 1 << 12 | 3 << 10


# --- the driver, against stand-ins for machine, rp2 and uctypes -------------------------

# the stand-ins for rp2 and uctypes (host_tests/standins)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "standins"))
import rp2 as fake_rp2  # noqa: E402
import uctypes as fake_uctypes  # noqa: E402

RAM = fake_rp2.RAM
FakeSM = fake_rp2.StateMachine


class FakeDMA(fake_rp2.DMA):
    channels = fake_rp2.DMA.channels

    def deliver(self, port, chars):
        fake_rp2.DMA.deliver(self, port, chars, pio9.RAW_SHIFT - 16)


@pytest.fixture
def port(monkeypatch):
    class Pin:
        OUT, IN, PULL_UP = 1, 0, 2
        made = []

        def __init__(self, n, mode=None, pull=None, value=None):
            self.n, self.mode, self.pull, self.value = n, mode, pull, value
            Pin.made.append(self)

    fake_rp2.reset()
    monkeypatch.setitem(sys.modules, "adafruit_pioasm", sys.modules["adafruit_pioasm"])  # back after the test
    monkeypatch.setitem(sys.modules, "machine", type(sys)("machine"))
    sys.modules["machine"].Pin = Pin
    monkeypatch.setitem(sys.modules, "rp2", type(sys)("rp2"))
    sys.modules["rp2"].StateMachine, sys.modules["rp2"].DMA, sys.modules["rp2"].PIO = FakeSM, FakeDMA, fake_rp2.PIO
    monkeypatch.setitem(sys.modules, "uctypes", fake_uctypes)

    async def no_sleep(ms):
        pass

    monkeypatch.setattr(pio9, "sleep_ms", no_sleep)
    p = pio9.Pio9Port()
    p.fake_pins, p.fake_pio = Pin, fake_rp2.PIO
    return p


def test_port_sets_up_state_machines_and_dma(port):
    tx, rx = port.tx, port.rx
    assert (tx.id, rx.id) == (pio9.SM_TX, pio9.SM_RX) and tx.on and rx.on
    assert tx.prog == TX_PROG and rx.prog == RX_PROG  # assembled from the module's text
    assert tx.kw["freq"] == rx.kw["freq"] == 8 * 19200
    assert (tx.kw["out_base"].n, tx.kw["set_base"].n, tx.kw["sideset_base"].n) == (0, 0, 2)
    assert rx.kw["in_base"].n == rx.kw["jmp_pin"].n == 1 and rx.kw["in_base"].pull == 2
    d, r = FakeDMA.channels
    assert d.on and not r.on
    assert d.read == 0x50200020 + 4 * 1 + 2  # the upper half of SM1's RX FIFO word
    size = 2 << pio9.RING_BITS  # bytes
    assert d.write % size == 0 and RAM <= d.write and d.write + size <= RAM + 2 * len(port._mem)
    assert d.ctrl == dict(
        size=1, inc_read=False, ring_size=pio9.RING_BITS + 1, ring_sel=True, treq_sel=5, chain_to=r.channel
    )  # DREQ_PIO0_RX1
    assert r.ctrl["chain_to"] == d.channel and r.count == 1
    assert d.count == pio9.COUNT and pio9.COUNT % (1 << pio9.RING_BITS) == 0 and pio9.COUNT < 1 << 30
    assert "adafruit_pioasm" not in sys.modules  # let go after assembling


def test_port_receives_through_the_ring(port):
    d = FakeDMA.channels[0]
    buf = array.array("H", bytes(2 * 64))
    assert port.take(buf) == 0
    sent = [0x190 ^ FE, 0x000 ^ FE, 0x090 ^ FE, 0x0A5]  # as pushed: marker 1, then a framing error
    d.deliver(port, sent)
    assert port.take(buf) == 4 and list(buf[:4]) == [0x190, 0x000, 0x090, 0x0A5 | FE]
    assert port.framing_errors == 1 and port.rx_symbols == 4
    # round the ring several times, in pieces smaller and larger than buf
    got = []
    ring = 1 << pio9.RING_BITS
    for k in range(3 * ring // 50):
        chunk = [(k * 50 + i) % 0x200 ^ FE for i in range(50)]
        d.deliver(port, chunk)
        while True:
            n = port.take(buf)
            if not n:
                break
            got += buf[:n]
    assert got == [(i % 0x200) for i in range(len(got))] and len(got) == 50 * (3 * ring // 50)
    assert port.overruns == 0


def test_port_counts_overruns_and_keeps_the_newest(port):
    d = FakeDMA.channels[0]
    ring = 1 << pio9.RING_BITS
    d.deliver(port, [i % 0x100 ^ FE for i in range(ring + 100)])
    buf = array.array("H", bytes(2 * 2 * ring))
    n = port.take(buf)
    assert n == ring and port.overruns == 100
    assert list(buf[:n]) == [i % 0x100 for i in range(100, ring + 100)]


def test_port_dma_restarts_keep_the_ring_position(port, monkeypatch):
    # a DMA sequence of two rounds of the ring, so that the chained restarts happen
    ring = 1 << pio9.RING_BITS
    monkeypatch.setattr(pio9, "COUNT", 2 * ring)
    p = pio9.Pio9Port()
    d = FakeDMA.channels[-2]
    buf = array.array("H", bytes(2 * 100))
    got = []
    for k in range(7 * ring // 100):
        d.deliver(p, [(k * 100 + i) % 0x200 ^ FE for i in range(100)])
        n = p.take(buf)
        got += buf[:n]
    assert got == [i % 0x200 for i in range(len(got))] and len(got) == 100 * (7 * ring // 100)
    assert p.overruns == 0


def test_port_recv_symbols_waits_then_times_out(port):
    buf = array.array("H", bytes(16))
    assert asyncio.run(port.recv_symbols(buf, timeout_ms=20)) == 0
    FakeDMA.channels[0].deliver(port, [0x155 ^ FE])
    assert asyncio.run(port.recv_symbols(buf)) == 1 and buf[0] == 0x155


def test_port_write(port):
    asyncio.run(port.write_frame(FRAME_A))
    asyncio.run(port.write(FRAME_F, flag_first=False))
    asyncio.run(port.write(array.array("H", [0x1FF, 0x000])))
    big = bytes(range(200))
    asyncio.run(port.write(big))
    assert port.tx.sent == [words(FRAME_A), list(FRAME_F), [0x1FF, 0x000], words(big)]
    assert port.tx_symbols == 3 + 8 + 2 + 200


def test_port_close(port):
    d, r = FakeDMA.channels
    port.close()
    assert not port.tx.on and not port.rx.on
    assert d.closed and r.closed and not d.on and d.ctrl == {"enable": False} == r.ctrl
    assert port.fake_pio.removed == [(0, TX_PROG), (0, RX_PROG)]
    last = port.fake_pins.made[-1]
    assert (last.n, last.mode, last.value) == (2, 1, 0)  # DE back to a plain output, low


# --- the board's assembler: adafruit_pioasm under MicroPython -------------------------

NODE = shutil.which("node")
MP_PORT = os.path.join(ROOT, "node_modules", "@micropython", "micropython-webassembly-pyscript", "micropython.mjs")

SCRIPT = r"""
import { loadMicroPython } from %(mjs)s;
import fs from "node:fs";
let out = "";
const mp = await loadMicroPython({
  heapsize: 2 * 1024 * 1024,
  stdout: (line) => { out += line + "\n"; },
  stderr: (line) => process.stderr.write(line + "\n"),
});
mp.FS.mkdirTree("/lib/ucm");
for (const [dest, src] of %(files)s) mp.FS.writeFile(dest, fs.readFileSync(src));
mp.runPython(`
import sys
sys.path.append("/lib")
import ucm_pio9 as pio9
for p in (pio9.to_rp2(pio9.TX_PIO, pio9.OUT_HIGH, pio9.OUT_HIGH, pio9.OUT_LOW), pio9.to_rp2(pio9.RX_PIO)):
    print(repr([list(p[0])] + p[1:]))
print(sys.implementation.name)
`);
process.stdout.write(out);
"""


# without Node.js or the npm port: skipped on a developer's machine, a failure in CI
@pytest.mark.skipif(
    (not NODE or not os.path.exists(MP_PORT)) and not os.environ.get("CI"),
    reason="needs Node.js and the npm MicroPython port (npm ci)",
)
def test_micropython_assembles_the_same_lists():
    # what the board runs: adafruit_pioasm and to_rp2 under MicroPython (1.29, WebAssembly)
    import adafruit_pioasm

    files = [
        ["/lib/adafruit_pioasm.py", adafruit_pioasm.__file__],
        ["/lib/ucm_pio9.py", os.path.join(ROOT, "boards", "pico_w", "ucm_pio9.py")],
        ["/lib/ucm/__init__.py", os.path.join(ROOT, "lib", "ucm", "__init__.py")],
        ["/lib/ucm/clock.py", os.path.join(ROOT, "lib", "ucm", "clock.py")],
    ]
    script = SCRIPT % {"mjs": json.dumps(MP_PORT), "files": json.dumps(files)}
    r = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip().splitlines()
    assert out[2:] == ["micropython"]
    assert out[:2] == [repr([list(p[0])] + p[1:]) for p in (TX_PROG, RX_PROG)]
