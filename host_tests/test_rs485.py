# The RS-485 UART port of the device boards (boards/common/ucm_rs485.py) against the
# stand-in UART, which records the DE pin's level at every byte it puts on the wire and
# when each stop bit ends: DE high before the first start bit, through every byte, and
# low only after the last stop bit, on a port whose flush() waits for the stop bit
# (rp2) and on one whose flush() returns one character early (ESP32); the receive
# buffer; an auto-direction transceiver's own echo discarded.
import asyncio

import pytest

import devboard  # noqa: F401  (the stand-ins: machine first)
from devboard import machine

import ucm_rs485 as rs485
import ucm_device as device


@pytest.fixture(autouse=True)
def virtual_sleep(monkeypatch):
    # the port's blocking character-time wait advances the stand-in's clock
    monkeypatch.setattr(rs485, "sleep_us", machine.advance_us)


def make(early, de=True, echo=False, declare_early=None):
    uart = machine.UART(2, 19200)
    uart.early_flush = early
    uart.echo = echo
    pin = machine.Pin(4, machine.Pin.OUT, value=0) if de else None
    uart.watch = pin
    port = rs485.Rs485Port(uart, pin, 19200, echo=echo, early_flush=early if declare_early is None else declare_early)
    return uart, pin, port


def de_edges(pin):
    # level changes only (setting the level it already has is no edge)
    out = []
    last = pin.history[0][1]
    for t, v in pin.history[1:]:
        if v != last:
            out.append((t, v))
            last = v
    return out


def check_frame_timing(uart, pin, frames):
    sent = uart.sent
    assert bytes(b for b, *_ in sent) == b"".join(frames)
    assert all(level == 1 for _, level, _, _ in sent), "a byte went out with DE low"
    edges = de_edges(pin)
    assert len(edges) == 2 * len(frames)
    i = 0
    for k, f in enumerate(frames):
        rise, fall = edges[2 * k], edges[2 * k + 1]
        assert rise[1] == 1 and fall[1] == 0
        first_start = sent[i][2]
        last_stop = sent[i + len(f) - 1][3]
        assert rise[0] <= first_start, "DE rose after the start bit"
        assert fall[0] >= last_stop, "DE dropped %d us before the last stop bit ended" % (last_stop - fall[0])
        # and not much later: the SGD may answer 40 ms after our frame
        assert fall[0] - last_stop <= uart.char_us
        i += len(f)


@pytest.mark.parametrize("early", [False, True], ids=["rp2-flush", "esp32-flush"])
def test_de_covers_every_byte_and_drops_after_the_last_stop_bit(early):
    uart, pin, port = make(early)
    frames = [bytes.fromhex("08 01 00 02 01 3c 1d e4".replace(" ", "")), b"\x06\x00", bytes(range(61))]
    for f in frames:
        asyncio.run(port.write(f))
        machine.advance_us(100000)  # the engine's gap between frames
    check_frame_timing(uart, pin, frames)
    assert port.tx_bytes == sum(map(len, frames))


def test_an_early_returning_flush_not_compensated_is_caught():
    # the check above can fail: the ESP32's early flush without the extra character
    uart, pin, port = make(early=True, declare_early=False)
    asyncio.run(port.write(b"\x08\x01\x00\x02\x01\x3c\x1d\xe4"))
    with pytest.raises(AssertionError, match="before the last stop bit"):
        check_frame_timing(uart, pin, [b"\x08\x01\x00\x02\x01\x3c\x1d\xe4"])


def test_de_is_low_at_start_and_after_close():
    uart, pin, port = make(False)
    assert pin.value() == 0
    pin.value(1)
    port.close()
    assert pin.value() == 0 and uart.closed


def test_receive_buffer_covers_a_100_ms_stall():
    need = rs485.rx_buffer(19200, 100)
    assert need == 192  # 1920 bytes/s at 10 bits a character
    assert rs485.RX_BUFFER >= need
    port = device.open_port({"uart": 0, "tx": 0, "rx": 1, "de": 2}, {"transceiver": "de"})
    kw = port.uart.kw
    assert kw["rxbuf"] >= need and kw["baudrate"] == 19200 and kw["bits"] == 8
    assert kw["parity"] is None and kw["stop"] == 1 and kw["timeout"] == 0
    assert port.de is machine.pins[2] and not port.echo


def test_a_100_ms_stall_loses_no_byte():
    # a burst at line rate while nobody reads: everything is there afterwards
    uart, pin, port = make(False)
    burst = bytes(i & 0xFF for i in range(rs485.rx_buffer(19200, 100)))
    uart.inbox += burst
    got = bytearray()
    buf = bytearray(64)

    async def drain():
        while len(got) < len(burst):
            n = await port.recv_into(buf)
            got.extend(buf[:n])

    asyncio.run(drain())
    assert bytes(got) == burst and port.rx_bytes == len(burst)


def test_auto_direction_port_has_no_de_and_discards_its_echo():
    port = device.open_port({"uart": 0, "tx": 0, "rx": 1, "de": 2}, {"transceiver": "auto"})
    assert port.de is None and port.echo
    uart = port.uart
    uart.echo = True
    reply = b"\x06\x00"
    buf = bytearray(64)

    async def go():
        await port.write(b"\x08\x01\x00\x02\x01\x3c\x1d\xe4")
        uart.inbox += reply  # the SGD's ACK after our echo
        n = await port.recv_into(buf)
        return bytes(buf[:n])

    assert asyncio.run(go()) == reply
    assert port.echo_errors == 0


def test_echo_split_across_reads_and_a_collision():
    uart, pin, port = make(False, de=False, echo=True)
    frame = b"\x08\x01\x00\x02\x01\x3c\x1d\xe4"
    buf = bytearray(3)  # small reads: the echo arrives in pieces

    async def go(tail):
        await port.write(frame)
        uart.inbox += tail
        out = bytearray()
        while len(out) < 2:
            n = await port.recv_into(buf)
            out.extend(buf[:n])
        return bytes(out)

    assert asyncio.run(go(b"\x06\x00")) == b"\x06\x00" and port.echo_errors == 0
    # a byte of the echo differs (two drivers at once): from there on it is data
    uart.echo = False
    uart.inbox += frame[:3]

    async def collide():
        await port.write(frame)
        uart.inbox[:] = frame[:3] + b"\x15\x06\x00"
        out = bytearray()
        while len(out) < 3:
            n = await port.recv_into(buf)
            out.extend(buf[:n])
        return bytes(out)

    uart.inbox.clear()
    assert asyncio.run(collide()) == b"\x15\x06\x00"
    assert port.echo_errors == 1
