# The board drivers and the whole firmware on a stock MicroPython rp2 image in an
# emulated RP2040 (host_tests/rp2emu.py), checked at the pins against simulated time.
# The board gets the `make deploy BOARD=pico_w` tree (.mpy, page) over the raw REPL,
# as mpremote would put it there. Images: RP2_FIRMWARE_DIR (see rp2emu.HOW).
import os
import sys

import pytest

import rp2emu
from rp2emu import MS, Pico, high_spans, uart_decode, uart_wave

ROOT = rp2emu.ROOT
sys.path.insert(0, os.path.join(ROOT, "tools"))

BAUD = 19200
BIT = 1e9 / BAUD
TX, RX, DE = 0, 1, 2


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """The deploy tree for pico_w, compiled as make deploy compiles it."""
    import deploy

    out = str(tmp_path_factory.mktemp("deploy") / "pico_w")
    items = deploy.files("pico_w")
    deploy.stage("pico_w", items, deploy.Compiler(), out=out)
    return out


@pytest.fixture(scope="module")
def pico(tree):
    p = Pico(rp2emu.image("RPI_PICO"))
    try:
        p.raw()
        free_boot = p.eval("__import__('gc').mem_free()")
        files = p.put_tree(tree)
        assert p.eval("__import__('os').stat('/lib/ucm_rs485.mpy')[6]") == os.path.getsize(
            os.path.join(tree, "lib", "ucm_rs485.mpy")
        )
        p.free_boot = free_boot
        p.files = files
        yield p
    finally:
        p.close()


def soft_reset(p):
    # Ctrl-D at the raw REPL: a soft reset, back at the raw REPL with a fresh heap
    p.type(b"\x04")
    p.run(ms=2000, until=b"raw REPL; CTRL-B to exit\r\n>")


# --- boards/common/ucm_rs485.py on machine.UART(0) + DE ------------------------------------------


RS485_SETUP = """
import asyncio
import ucm_device as device
from ucm_rs485 import Rs485Port
pins = {"uart": 0, "tx": 0, "rx": 1, "de": 2}
port = Rs485Port(device.uart(pins), device.de_pin(pins), 19200)
"""


def test_rs485_sends_the_frame_at_19200_with_de_around_it(pico):
    soft_reset(pico)
    pico.watch(TX, DE)
    frame = bytes.fromhex("080100007ecd") + bytes(range(0x20, 0x40))
    pico.exec(RS485_SETUP)
    t0 = pico.t
    pico.exec("asyncio.run(port.write(%r))" % frame)
    pico.run(ms=5)
    tx = [e for e in pico.edges[TX] if e[0] >= t0]
    de = [e for e in pico.edges[DE] if e[0] >= t0]
    chars = uart_decode(tx, BAUD)
    assert bytes(c[1] for c in chars) == frame
    assert all(c[2] for c in chars), "a stop bit was low"
    # back to back: the baud rate from the first to the last start bit
    bit = (chars[-1][0] - chars[0][0]) / (10 * (len(chars) - 1))
    baud = 1e9 / bit
    assert abs(baud - BAUD) / BAUD < 0.005, baud
    spans = high_spans(de)
    assert len(spans) == 1, spans
    rise, fall = spans[0]
    assert fall is not None, "DE stayed high"
    end = chars[-1][0] + 10 * bit  # the end of the last stop bit
    lead_us = (chars[0][0] - rise) / 1000
    lag_us = (fall - end) / 1000
    rp2emu.report(
        "rs485 on UART0: %.1f baud, %d bytes, DE up %.1f us before the start bit, down %.1f us after the last stop bit"
        % (baud, len(frame), lead_us, lag_us)
    )
    assert lead_us > 0
    assert 0 <= lag_us < 1000  # down long before the SGD may answer (40 ms)


def test_rs485_receives_what_the_line_carries(pico):
    soft_reset(pico)
    data = bytes.fromhex("06000801000301c2cc") + bytes(range(200))
    pico.exec(RS485_SETUP + "buf = bytearray(64)\ngot = bytearray()\n")
    pico.drive(RX, uart_wave(pico.t + 2 * MS, data, BAUD))
    pico.start(
        """
async def take():
    while len(got) < %d:
        n = await port.recv_into(buf)
        got.extend(buf[:n])
asyncio.run(asyncio.wait_for(take(), 2))
print(got.hex(), port.rx_bytes)
"""
        % len(data)
    )
    out = pico.finish(ms=3000).split()
    assert bytes.fromhex(out[0]) == data
    assert int(out[1]) == len(data)


# --- boards/pico_w/ucm_pio9.py: the 9-bit bus on PIO0 ------------------------------------------------

from ninebit_vectors import ORDER, golden  # noqa: E402

# The same two programs written for the board's own assembler (rp2.asm_pio), as the
# oracle for pio9.to_rp2's program list: same instructions, same configuration.
ORACLE = """
import rp2
from rp2 import PIO
@rp2.asm_pio(out_init=PIO.OUT_HIGH, set_init=PIO.OUT_HIGH, sideset_init=PIO.OUT_LOW,
             in_shiftdir=PIO.SHIFT_RIGHT, out_shiftdir=PIO.SHIFT_RIGHT, fifo_join=PIO.JOIN_TX)
def tx():
    wrap_target()
    pull(block).side(0)
    nop().side(1)[7]
    label("start")
    set(pins, 0).side(1)[6]
    set(x, 8).side(1)
    label("bit")
    out(pins, 1).side(1)[6]
    jmp(x_dec, "bit").side(1)
    set(pins, 1).side(1)[4]
    pull(noblock).side(1)
    mov(y, osr).side(1)
    jmp(x_not_y, "start").side(1)
    wrap()
@rp2.asm_pio(in_shiftdir=PIO.SHIFT_RIGHT, out_shiftdir=PIO.SHIFT_RIGHT, autopush=True, push_thresh=10,
             fifo_join=PIO.JOIN_RX)
def rx():
    wrap_target()
    label("start")
    wait(0, pin, 0)[2]
    jmp(pin, "start")
    set(x, 8)[6]
    label("bit")
    in_(pins, 1)[6]
    jmp(x_dec, "bit")
    jmp(pin, "good")
    in_(null, 1)
    wait(1, pin, 0)
    jmp("start")
    label("good")
    in_(x, 1)
    wrap()
import ucm_pio9 as pio9
def same(a, b):
    return [list(a[0]) == list(b[0])] + [x == y for x, y in zip(a[1:], b[1:])] + [len(a) == len(b)]
print(json.dumps([same(pio9.to_rp2(pio9.TX_PIO, 3, 3, 2), tx), same(pio9.to_rp2(pio9.RX_PIO), rx),
                  pio9.program_fields(), len(tx)]))
"""


def test_pio9_programs_match_the_boards_own_assembler(pico):
    soft_reset(pico)
    tx, rx, fields, n = __import__("json").loads(pico.exec("import json\n" + ORACLE))
    assert fields == n == 9  # MicroPython 1.29: [prog, 3 offsets, execctrl, shiftctrl, 3 inits]
    assert all(tx), tx
    assert all(rx), rx


def test_pio9_sends_the_dhpst_frames_with_the_9th_bit_and_de(pico):
    soft_reset(pico)
    pico.watch(TX, DE)
    pico.exec("import asyncio\nfrom ucm_pio9 import Pio9Port\nport = Pio9Port()")
    t0 = pico.t
    frames = [golden(n) for n in ORDER]
    for f in frames:
        pico.exec("asyncio.run(port.write_frame(%r))" % f)
    pico.run(ms=5)
    tx = [e for e in pico.edges[TX] if e[0] >= t0]
    chars = uart_decode(tx, BAUD, data_bits=9)
    assert all(c[2] for c in chars), "a stop bit was low"
    got, cur = [], None
    for t, v, _ in chars:
        if v & 0x100:
            cur = bytearray()
            got.append((t, cur))
        cur.append(v & 0xFF)
    assert [bytes(g) for _, g in got] == frames  # the 9th bit on each first byte only
    spans = high_spans([e for e in pico.edges[DE] if e[0] >= t0])
    assert len(spans) == len(frames), spans
    char = 11 * BIT
    for (rise, fall), (start, g) in zip(spans, got):
        last = [c for c in chars if c[0] < fall][-1][0]
        assert 0 < start - rise <= 2 * BIT  # DE one bit ahead of the first start bit
        assert -10 <= fall - (last + char) <= BIT  # and down as the last stop bit ends (ns)
    rp2emu.report(
        "pio9 TX: %d frames, %d characters; DE lead %.1f us, lag %.1f us"
        % (len(frames), len(chars), (got[0][0] - spans[0][0]) / 1000, (spans[-1][1] - (chars[-1][0] + char)) / 1000)
    )


def test_pio9_receives_frames_through_the_dma_ring_into_the_reader(pico):
    soft_reset(pico)
    pico.exec("""
import asyncio, array, json
from ucm_pio9 import Pio9Port
from ninebit.reader import Reader
frames = []
reader = Reader(on_frame=lambda f, now: frames.append(f))
port = Pio9Port()
buf = array.array('H', bytes(256))
""")
    t = pico.t + 1 * MS
    changes = []
    frames = [golden(n) for n in ORDER]
    for f in frames:
        changes += uart_wave(t, f, BAUD, nine=[1] + [0] * (len(f) - 1))
        t += len(f) * 11 * BIT + 3 * MS
    # one character with its stop bit low (a framing error), then the line idles again
    changes += [(round(t), 0), (round(t + 11 * BIT), 1)]
    t += 12 * BIT
    pico.drive(RX, changes)
    pico.run(ns=t - pico.t + 2 * MS)  # all of it on the wire while the loop is not even reading
    out = pico.exec("""
k = port.take(buf)
while k:
    reader.feed_symbols(buf, 0, k)
    k = port.take(buf)
print(json.dumps([[f.hex() for f in frames], port.rx_symbols, port.framing_errors, port.overruns]))
""")
    got, n, fe, over = __import__("json").loads(out)
    assert [bytes.fromhex(g) for g in got] == frames
    assert n == sum(len(f) for f in frames) + 1
    assert fe == 1
    assert over == 0


# --- heap figures (the RAM budget issue sets limits on them) ----------------------------------


def modules(tree):
    """Every module of the deploy tree, as import names (/main.py, the start stub, left out)."""
    out = []
    lib = os.path.join(tree, "lib")
    for dirpath, dirnames, filenames in os.walk(lib):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith(".mpy"):
                rel = os.path.relpath(os.path.join(dirpath, f), lib)[:-4].replace(os.sep, ".")
                out.append(rel[:-9] if rel.endswith(".__init__") else rel)
    return out


HEAP = """
import gc, json
gc.collect()
before = gc.mem_free()
failed = {}
for m in %r:
    try:
        __import__(m)
    except Exception as e:
        failed[m] = repr(e)
gc.collect()
print(json.dumps([before, gc.mem_free(), failed]))
"""


@pytest.mark.parametrize("board", ["RPI_PICO", "RPI_PICO_W"])
def test_heap_after_boot_and_after_importing_the_deploy_set(board, tree, pico):
    if board == "RPI_PICO":
        p, close = pico, False
    else:
        p, close = Pico(rp2emu.image(board)), True
    try:
        if close:
            p.raw()
            p.put_tree(tree)
        else:
            soft_reset(p)
        before, after, failed = __import__("json").loads(p.exec(HEAP % modules(tree), ms=60000))
    finally:
        if close:
            p.close()
    cost = before - after
    rp2emu.report(
        "%s heap: %d B free at the REPL, %d B after importing the %d deploy modules (.mpy): they cost %d B"
        % (board, before, after, len(modules(tree)), cost)
    )
    # modules that need what this image lacks (network on RPI_PICO) are the only failures
    assert set(failed) <= {"wifi", "ntptime"}, failed
    assert 0 < cost < before


# --- the whole firmware (board pico_w) against a simulated heater on the UART0 pins --------------

NETWORK = os.path.join(ROOT, "host_tests", "standins", "network.py")  # RPI_PICO has no network module


class WireSgd:
    """tools/sgd_sim.SgdSim on GP0/GP1 in lockstep with the board: what the board sends is
    decoded at the pins and fed to the heater at the times it arrived; what the heater
    sends is driven onto GP1 bit by bit."""

    def __init__(self, pico, sgd):
        self.p = pico
        self.sgd = sgd
        self.edges_from = 0  # TX edges already decoded
        self.cursor = pico.t
        self.free = pico.t  # GP1 idle from
        self.ucm = []  # (t start, byte) from the board
        self.sent = []  # (t end, frame) from the heater
        self.pending = []  # frames the heater has to send once the line is free

    def step(self, ms):
        p = self.p
        p.run(ms=ms)
        edges = p.edges[TX]
        new = edges[self.edges_from :]
        chars = [c for c in uart_decode([e for e in new if e[0] >= self.cursor], BAUD) if c[0] + 9.5 * BIT <= p.t]
        for t, v, ok in chars:
            self.ucm.append((t, v))
            self.sgd.feed(bytes([v]), int(t // MS))
        if chars:
            # from the middle of the last stop bit (the line is high there): the next
            # start bit may begin a hair before 10 nominal bits, the board's baud rate
            # being a fraction faster than 19200
            self.cursor = chars[-1][0] + 9.5 * BIT
            while self.edges_from < len(edges) and edges[self.edges_from][0] < self.cursor:
                self.edges_from += 1
        now_ms = int(p.t // MS)
        self.pending += self.sgd.poll(now_ms)
        de = p.edges.get(DE)
        if de and de[-1][1]:
            return  # half duplex: the board is sending; the heater waits for the line
        for frame in self.pending:
            t0 = max(p.t, self.free)
            p.drive(RX, uart_wave(t0, frame, BAUD))
            self.free = t0 + len(frame) * 10 * BIT
            self.sent.append((self.free, bytes(frame)))
        self.pending = []

    def run(self, ms, step_ms=2):
        end = self.p.t + ms * MS
        while self.p.t < end:
            self.step(step_ms)

    def ack_delays_ms(self):
        """For each heater message (not an ACK/NAK), the time from its last stop bit to
        the start of the board's next character, and that character."""
        out = []
        self.collisions = 0
        self.queued = 0
        for end, f in self.sent:
            if len(f) <= 2:
                continue
            start = end - len(f) * 10 * BIT
            if [t for t, v in self.ucm if start - 10 * BIT < t < end]:
                # both sides on the half-duplex line at once: the heater here only hears
                # the board's bytes at the next step, so it can start into a board frame
                self.collisions += 1
                continue
            # the board's frames after this one; a frame the board had already queued
            # (its first byte a message type, not ACK/NAK) is not the answer to this one
            nxt = [fr for fr in self.board_frames() if fr[0][0] > end]
            while nxt and nxt[0][0][1] not in (0x06, 0x15):
                self.queued += 1
                nxt = nxt[1:]
            if nxt:
                out.append(((nxt[0][0][0] - end) / MS, nxt[0][0][1]))
        return out

    def board_frames(self):
        """The board's characters grouped into frames: a gap of more than 2 character
        times starts a new one."""
        frames = []
        last = None
        for t, v in self.ucm:
            if last is None or t - last > 30 * BIT:
                frames.append([])
            frames[-1].append((t, v))
            last = t
        return frames


def start_firmware(p, config):
    soft_reset(p)
    p.put("/lib/network.py", open(NETWORK, "rb").read())
    p.put("/ucm.json", __import__("json").dumps(config).encode())
    p.watch(TX, DE)
    p.start("import ucm_main\nucm_main.main()")


def stop_firmware(p):
    p.type(b"\x03")
    p.finish(ms=3000)
    return p.eval(
        "{'status': __import__('ucm_board').system.status(), 'state': __import__('ucm_board').system.ucm.engine.state,"
        " 'bus': __import__('ucm_board').system.bus, 'mem_free': __import__('gc').mem_free()}"
    )


def test_firmware_cta2045_links_up_and_acks_in_time(pico):
    from sgd_sim import SgdSim

    start_firmware(pico, {"bus": "cta2045", "token": "emulated-token-1"})
    # the heater starts once the board listens: what it would send before is lost on a
    # line nobody reads yet, and a real heater sends it again
    pico.run(ms=10000, until=b"ucm: started")
    feeds0, wall0 = pico.feeds, pico.wall_ms
    wire = WireSgd(pico, SgdSim(seed=3))
    wire.run(12000)
    st = stop_firmware(pico)
    log = pico.console.decode("utf-8", "replace")
    delays = wire.ack_delays_ms()
    assert st["state"] == "up", (st, log[-2000:])
    assert st["bus"]["active"] == "cta2045"
    assert len(delays) >= 3, "the heater sent nothing the board answered"
    assert all(v == 0x06 for _, v in delays), delays  # each answer starts with a link ACK
    assert all(40 <= d <= 200 for d, _ in delays), delays
    assert pico.feeds - feeds0 >= 8, "the watchdog was not fed"
    assert not [e for e in pico.events if e[1] == "watchdog"]
    started = [ln for ln in log.splitlines() if "started, mem_free" in ln]
    rp2emu.report(
        "firmware on RPI_PICO, bus cta2045: link up, %d heater messages ACKed %.1f-%.1f ms after their last stop"
        " bit (%d overlapped a board frame, %d followed one the board had queued), %d watchdog feeds; %s;"
        " %d B free after stopping it "
        "(emulation: %.1f s of wall time for 12 s)"
        % (
            len(delays),
            min(d for d, _ in delays),
            max(d for d, _ in delays),
            wire.collisions,
            wire.queued,
            pico.feeds - feeds0,
            started[-1].strip() if started else "no start line",
            st["mem_free"],
            (pico.wall_ms - wall0) / 1000,
        )
    )


def drive_ninebit_rounds(p, ms, period_ms=250):
    """tools/ninebit_sim's bus master on GP1: a round of frames (9th bit on each first
    byte) every period_ms, for ms; returns the frames sent."""
    from ninebit_sim import NineBitSim

    sim = NineBitSim()
    sent = []
    end = p.t + ms * MS
    while p.t < end:
        t = p.t + 1 * MS
        changes = []
        for f in sim.frames():
            changes += uart_wave(t, f, BAUD, nine=[1] + [0] * (len(f) - 1))
            t += len(f) * 11 * BIT + 2 * MS
            sent.append(f)
        p.drive(RX, changes)
        p.run(ms=period_ms)
    return sent


@pytest.mark.parametrize("bus", ["ninebit-listen", "ninebit", "auto"])
def test_firmware_ninebit_personalities_decode_the_bus(pico, bus):
    start_firmware(pico, {"bus": bus, "bus_detect_s": 2, "token": "emulated-token-1"})
    feeds0 = pico.feeds
    sent = drive_ninebit_rounds(pico, 6000)
    st = stop_firmware(pico)
    nb = pico.eval("__import__('ucm_board').system.ninebit.status()")
    log = pico.console.decode("utf-8", "replace")
    want = "ninebit" if bus == "ninebit" else "ninebit-listen"
    assert st["bus"]["active"] == want, (st["bus"], log[-1500:])
    assert ("warning" in st["bus"]) == (bus == "ninebit")
    assert nb["transmit"] == (bus == "ninebit")
    assert nb["mode"] == "flagged"
    # frames sent after the port opened are decoded (auto listens bus_detect_s first)
    assert nb["frames"] >= len(sent) // 3, (nb, len(sent))
    # the bus runs before the board listens: each time the port opens it may cut into a
    # frame (once, or twice for auto: detection, then the personality); nothing else fails
    opens = 2 if bus == "auto" else 1
    assert nb["errors"]["checksum"] + nb["errors"]["truncated"] <= opens, nb
    assert nb["params"] > 0
    assert pico.feeds - feeds0 >= 4, "the watchdog was not fed"
    rp2emu.report(
        "firmware on RPI_PICO, bus %s: active %s, %d of %d frames decoded, %d parameters, %d watchdog feeds"
        % (bus, st["bus"]["active"], nb["frames"], len(sent), nb["params"], pico.feeds - feeds0)
    )


def test_firmware_auto_without_9bit_traffic_uses_cta2045(pico):
    from sgd_sim import SgdSim

    start_firmware(pico, {"bus": "auto", "bus_detect_s": 2, "token": "emulated-token-1"})
    wire = WireSgd(pico, SgdSim(seed=5))
    wire.run(9000)
    st = stop_firmware(pico)
    assert st["bus"]["active"] == "cta2045", st["bus"]
    assert st["state"] == "up", st


# The Pico W's free heap once the firmware has started, with the .mpy deploy set: at
# least 100 KB (README: RAM), for Wi-Fi, sockets and requests.
PICO_W_FREE_TARGET = 100 * 1024


def test_firmware_on_pico_w_heap_after_start_up(tree):
    """RPI_PICO_W with the deploy tree: the firmware starts (bus cta2045, a Wi-Fi network
    configured) and what it leaves free once started; the real network module is there
    but the emulated board has no radio, so Wi-Fi never joins."""
    p = Pico(rp2emu.image("RPI_PICO_W"))
    try:
        p.raw()
        free_repl = p.eval("__import__('gc').mem_free()")
        p.put_tree(tree)
        p.put(
            "/ucm.json",
            b'{"bus": "cta2045", "token": "emulated-token-1", "wifi": {"ssid": "home", "password": "pw123456"}}',
        )
        p.start("import ucm_main\nucm_main.main()")
        p.run(ms=8000, until=b"ucm: started")
        log = p.console.decode("utf-8", "replace")
    finally:
        p.close()
    started = [ln for ln in log.splitlines() if "ucm: started, mem_free" in ln]
    assert started, log[-2000:]
    free = int(started[-1].split("mem_free ")[1].split(",")[0])
    rp2emu.report(
        "firmware on RPI_PICO_W, bus cta2045, .mpy: %d B free at the REPL, %d B once started (budget %d B: %s)"
        % (free_repl, free, PICO_W_FREE_TARGET, "held" if free >= PICO_W_FREE_TARGET else "MISSED")
    )
    assert free >= PICO_W_FREE_TARGET, "the firmware leaves %d B free on a Pico W, less than %d" % (
        free,
        PICO_W_FREE_TARGET,
    )
