# The 9-bit bus on the ESP32 (boards/esp32/ucm_uart9.py) against the stand-in UART: the
# parity bit of every byte sent equals its 9th bit (1 on the first byte only), DE covers
# the frame and drops after the last stop bit; and the esp32 board's firmware in the
# ninebit personalities: plain-mode frames in the API, sending only checksum-valid frames,
# a 0x40 broadcast only with force.
import asyncio

import pytest

import devboard
from devboard import machine

devboard.board("esp32")  # boards/esp32 on the module path
import ucm_uart9 as uart9  # noqa: E402
from ninebit.frame import block, encode  # noqa: E402
from test_firmware import TOKEN, Unit, device, run, write_config  # noqa: E402, F401  (the fixture)
from checks import rows  # noqa: E402

FRAMES = [encode(b"\x90\x00"), block(0x0D, [1, 60, 0, 16, 120, 120]), encode(b"\xff\x7e\x01")]


@pytest.fixture(autouse=True)
def virtual_sleep(monkeypatch):
    monkeypatch.setattr(uart9, "sleep_us", machine.advance_us)


def sent_9th_bits(u, start=0):
    # what a 9-bit receiver reads in the parity bit's place
    out = []
    for (b, level, t0, t1), par in zip(u.sent[start:], u.parities[start:]):
        ones = bin(b).count("1") & 1
        out.append(ones if par == 0 else 1 - ones)
    return out


def test_parity_carries_the_9th_bit_and_de_covers_the_frame():
    u = machine.UART(2, 19200, parity=0)
    u.early_flush = True
    de = machine.Pin(4, machine.Pin.OUT, value=0)
    u.watch = de
    port = uart9.Uart9Port(u, de, 19200)
    for f in rows(FRAMES):
        start = len(u.sent)
        asyncio.run(port.write_frame(f))
        assert bytes(b for b, *_ in u.sent[start:]) == f
        assert sent_9th_bits(u, start) == [1] + [0] * (len(f) - 1)
        assert all(level == 1 for _, level, _, _ in u.sent[start:])
        last_stop = u.sent[-1][3]
        fall = de.history[-1]
        assert fall[1] == 0 and fall[0] >= last_stop and fall[0] - last_stop <= 11 * 1000000 // 19200
        machine.advance_us(50000)
    assert u.char_us == 11 * 1000000 // 19200  # 11-bit characters with the parity bit
    # init(parity=) only where the next byte needs the other parity
    need = [(bin(b).count("1") & 1) ^ (1 if i == 0 else 0) for f in FRAMES for i, b in enumerate(f)]
    assert u.inits == sum(1 for a, b in zip([0] + need, need) if a != b)


def test_esp32_board_listens_without_the_9th_bit(device):
    write_config(
        device, {"token": TOKEN, "bus": "ninebit-listen", "wifi": {"ssid": "home", "password": "correct horse"}}
    )

    async def go():
        u = await Unit().start("esp32")
        uart = machine.uarts[-1]
        assert uart.kw["parity"] == 0 and uart.kw["bits"] == 8
        st, s = await u.json("GET", "/api/status")
        assert s["bus"]["active"] == "ninebit-listen" and s["bus"]["ninebit"]["mode"] == "plain"
        uart.inbox += b"\x13" + b"".join(FRAMES[:2]) + b"\x90\x00\x91"  # junk, 2 frames, a bad one
        await u.until(lambda: u.system.ninebit.reader.frames == 2, what="frames")
        st, r = await u.json("GET", "/api/ninebit/frames")
        assert [f["hex"] for f in r["frames"] if "error" not in f] == [FRAMES[0].hex(), FRAMES[1].hex()]
        st, r = await u.json("POST", "/api/ninebit/send", {"hex": "900090"}, TOKEN)
        assert st == 409
        u.stop()

    run(go())


def test_esp32_board_sends_in_the_ninebit_personality(device):
    write_config(device, {"token": TOKEN, "bus": "ninebit", "wifi": {"ssid": "home", "password": "correct horse"}})

    async def go():
        u = await Unit().start("esp32")
        uart = machine.uarts[-1]
        st, s = await u.json("GET", "/api/status")
        assert s["bus"]["active"] == "ninebit" and s["bus"]["ninebit"]["transmit"] is True
        assert "write protocol is not public" in s["bus"]["warning"]
        assert any("SENDING IS ON" in line for line in u.logs)
        st, r = await u.json("POST", "/api/ninebit/send", {"hex": "90 00 90"}, TOKEN)
        assert st == 200 and r["sent"] == "900090" and "not public" in r["warning"]
        assert bytes(b for b, *_ in uart.sent) == b"\x90\x00\x90" and sent_9th_bits(uart) == [1, 0, 0]
        st, r = await u.json("POST", "/api/ninebit/send", {"hex": "90 00 91"}, TOKEN)
        assert st == 400 and "sum" in r["error"]
        f = FRAMES[1].hex()
        st, r = await u.json("POST", "/api/ninebit/send", {"hex": f}, TOKEN)
        assert st == 400 and "force" in r["error"]
        st, r = await u.json("POST", "/api/ninebit/send", {"hex": f, "force": True}, TOKEN)
        assert st == 200
        st, r = await u.json("POST", "/api/ninebit/send", {"hex": "900090"})
        assert st == 401
        assert len(uart.sent) == 3 + len(FRAMES[1])
        st, r = await u.json("GET", "/api/ninebit/frames")
        assert [f["dir"] for f in r["frames"]] == ["tx", "tx"]
        u.stop()

    run(go())


def _pico_9bit(u):
    # the pico_w's 9-bit port and its receive DMA channel (stand-in rp2)
    import rp2
    import ucm_pio9 as pio9

    port = u.system.ninebit.port
    assert isinstance(port, pio9.Pio9Port)
    return port, rp2.DMA.channels[-2], pio9


def test_pico_w_board_listens_with_the_9th_bit(device):
    import rp2

    rp2.reset()
    write_config(
        device, {"token": TOKEN, "bus": "ninebit-listen", "wifi": {"ssid": "home", "password": "correct horse"}}
    )

    async def go():
        u = await Unit().start("pico_w")
        port, dma, pio9 = _pico_9bit(u)
        st, s = await u.json("GET", "/api/status")
        assert s["bus"]["active"] == "ninebit-listen" and s["bus"]["ninebit"]["mode"] == "flagged"
        assert rp2.StateMachine.made[0].kw["sideset_base"].id == 2  # DE from the board's pin map
        from ninebit.frame import symbols

        syms = [0x13] + symbols(FRAMES[0]) + symbols(FRAMES[1]) + symbols(b"\x90\x00\x91")
        dma.deliver(port, [v ^ pio9.FE for v in syms], pio9.RAW_SHIFT - 16)  # as the PIO pushes them
        await u.until(lambda: u.system.ninebit.reader.frames == 2, what="frames")
        st, r = await u.json("GET", "/api/ninebit/frames")
        assert [f["hex"] for f in r["frames"] if "error" not in f] == [FRAMES[0].hex(), FRAMES[1].hex()]
        assert [f["error"] for f in r["frames"] if "error" in f] == ["checksum"]
        st, p = await u.json("GET", "/api/ninebit/params")
        assert [w["u16"] for w in p["params"] if w["block"] == 0x0D] == [1, 60, 0, 16, 120, 120]
        u.stop()

    run(go())


def test_a_9bit_driver_that_fails_at_start_falls_back_to_cta2045(device):
    # e.g. rp2.StateMachine refusing the program list (a MicroPython with another
    # layout): the board still runs the CTA-2045 engine and HTTP, and says why
    import rp2

    rp2.reset()
    write_config(
        device, {"token": TOKEN, "bus": "ninebit-listen", "wifi": {"ssid": "home", "password": "correct horse"}}
    )
    made = rp2.StateMachine.__init__

    import machine

    wdts_at_refusal = []
    n0 = len(machine.wdts)

    def refuse(self, id, prog, **kw):
        wdts_at_refusal.append(len(machine.wdts))
        raise ValueError("requested length 9 but object has length 8")

    rp2.StateMachine.__init__ = refuse

    async def go():
        u = await Unit().start("pico_w")
        st, s = await u.json("GET", "/api/status")
        assert st == 200 and s["bus"]["active"] == "cta2045" and s["bus"]["setting"] == "ninebit-listen"
        assert "requested length 9" in s["bus"]["why"]
        assert u.system.ninebit is None and "engine" in s["firmware"]["tasks"]
        # the supervisor logged and counted it; the watchdog was already running
        f = s["firmware"]["startup_failures"]["ninebit-port"]
        assert f["failures"] == 1 and "requested length 9" in f["last_error"] and f["fallback"] == "CTA-2045 instead"
        assert wdts_at_refusal and wdts_at_refusal[0] == n0 + 1
        u.stop()

    try:
        run(go())
    finally:
        rp2.StateMachine.__init__ = made


def test_pico_w_board_sends_with_the_9th_bit(device):
    import rp2

    rp2.reset()
    write_config(device, {"token": TOKEN, "bus": "ninebit", "wifi": {"ssid": "home", "password": "correct horse"}})

    async def go():
        u = await Unit().start("pico_w")
        port, dma, pio9 = _pico_9bit(u)
        st, r = await u.json("POST", "/api/ninebit/send", {"hex": "90 00 90"}, TOKEN)
        assert st == 200
        assert port.tx.sent == [[0x190, 0x000, 0x090]]  # 9-bit words: the flag on byte 0 only
        u.stop()

    run(go())
