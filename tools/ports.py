# ports.py: byte ports for the PC side (CPython only). A port is the one I/O abstraction
# the sans-IO cores are run with:
#     port.readinto(buf) -> int     non-blocking: copy available bytes into buf, 0 if none
#     await port.write(data)        returns once every byte is handed to the OS (or dropped)
#     port.close()
# FdPort wraps a raw file descriptor (a pty master), SerialPort a serial device through
# pyserial (a USB RS-485 adapter or a pty path), memory_pair() two in-process ports joined
# back to back for tests. open_pty() and configure_tty() set up ttys the way the CTA-2045
# link wants them: raw, 19200 baud, 8N1 (PROTOCOL.md section 1.1).

import asyncio
import errno
import os
import termios
import time
import tty

BAUD = 19200


def _raw_19200(fd):
    """Raw mode (no echo, no CR/LF translation, 8 bit, no flow control), 19200 8N1."""
    tty.setraw(fd, termios.TCSANOW)
    a = termios.tcgetattr(fd)
    a[2] &= ~(termios.PARENB | termios.CSTOPB | termios.CSIZE | getattr(termios, "CRTSCTS", 0))
    a[2] |= termios.CS8 | termios.CLOCAL | termios.CREAD
    a[0] &= ~(termios.IXON | termios.IXOFF | termios.IXANY | termios.ICRNL | termios.INLCR | termios.IGNCR)
    a[1] &= ~termios.OPOST
    a[4] = a[5] = termios.B19200
    a[6][termios.VMIN] = 1  # non-blocking reads then give EAGAIN, not b"", when empty
    a[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, a)


CMSPAR = 0o10000000000  # Linux's mark/space ("stick") parity bit; Python's termios lacks it


def input_flags(attrs, plain):
    """The termios attribute list with our input flags. Both modes clear IGNBRK and BRKINT:
    with BRKINT a break (with --plain, a 00 byte whose 9th bit is 0 looks like one) would
    raise SIGINT instead of arriving as a 00 byte. Space parity: INPCK|PARMRK set, IGNPAR
    and ISTRIP cleared, so a parity error arrives as FF 00 x. --plain: INPCK and PARMRK
    cleared, so bytes arrive unmarked, also those with a framing error (8N1 reads the
    9th bit where it expects the stop bit)."""
    a = list(attrs)
    a[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.IGNPAR | termios.ISTRIP)
    if plain:
        a[0] &= ~(termios.INPCK | termios.PARMRK)
    else:
        a[0] |= termios.INPCK | termios.PARMRK
    return a


def space_parity_problem(attrs):
    """None when the attributes read back from the port hold space parity with
    INPCK|PARMRK, else what differs."""
    iflag, cflag = attrs[0], attrs[2]
    bad = [
        "%s not set" % name
        for name, flags, bit in (
            ("PARENB", cflag, termios.PARENB),
            ("CMSPAR", cflag, CMSPAR),
            ("INPCK", iflag, termios.INPCK),
            ("PARMRK", iflag, termios.PARMRK),
        )
        if not flags & bit
    ]
    if cflag & termios.PARODD:
        bad.append("PARODD set")
    return ", ".join(bad) or None


def ninebit_capture(fd):
    """The 9-bit bus's capture settings on a raw 19200 tty: SPACE parity checked
    (PARENB|CMSPAR, PARODD clear) with INPCK|PARMRK, so a byte whose 9th bit is 1 fails
    the check and arrives as FF 00 x, a literal 0xFF as FF FF (lib/ninebit/capture.py).
    Raises OSError where the driver refuses space parity (a pty does)."""
    a = input_flags(termios.tcgetattr(fd), False)
    a[2] |= termios.PARENB | CMSPAR
    a[2] &= ~termios.PARODD
    termios.tcsetattr(fd, termios.TCSANOW, a)
    problem = space_parity_problem(termios.tcgetattr(fd))
    if problem:
        raise OSError(errno.EINVAL, "no space parity with PARMRK on this tty (%s)" % problem)


def configure_tty(path_or_fd, ninebit=False):
    """Put a tty (a path or an open fd) in raw 19200 8N1, e.g. a pty slave before another
    process opens it; ninebit: the 9-bit bus's capture settings instead (above).
    Settings of a pty persist while its master is open."""
    fd = path_or_fd if isinstance(path_or_fd, int) else os.open(path_or_fd, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        _raw_19200(fd)
        if ninebit:
            ninebit_capture(fd)
    finally:
        if fd is not path_or_fd:
            os.close(fd)


def open_pty():
    """A new pty pair: (master_fd, slave_fd, slave_path), the slave in raw 19200 8N1.
    Close slave_fd once the other side has the path, so that the master sees the peer come
    and go (FdPort then drops what it writes while nobody has the slave open)."""
    master, slave = os.openpty()
    _raw_19200(slave)
    return master, slave, os.ttyname(slave)


class FdPort:
    """A raw file descriptor (a pty master, a tty opened by the caller), non-blocking.

    On a pty master, read gives EIO while no process has the slave open; readinto then
    returns 0 and, with drop_when_closed, write discards its data the way a bus with nobody
    listening would, instead of queueing stale frames for the next process that opens the
    slave. A write that makes no progress for write_timeout_s seconds (the peer holds the
    tty open but does not read) drops the rest; dropped_bytes counts what was discarded."""

    def __init__(self, fd, drop_when_closed=True, write_timeout_s=1.0, close_fd=True):
        self.fd = fd
        self.drop_when_closed = drop_when_closed
        self.write_timeout_s = write_timeout_s
        self.close_fd = close_fd
        self.peer_closed = False
        self.dropped_bytes = 0
        os.set_blocking(fd, False)

    def readinto(self, buf):
        if self.fd is None:
            return 0
        try:
            n = os.readv(self.fd, [buf])
        except BlockingIOError:
            self.peer_closed = False
            return 0
        except OSError as e:
            if e.errno == errno.EIO:  # pty master, slave side closed
                self.peer_closed = True
                return 0
            raise
        self.peer_closed = False
        return n

    async def write(self, data):
        if self.fd is None:
            raise OSError(errno.EBADF, "port closed")
        if self.drop_when_closed and self.peer_closed:
            self.dropped_bytes += len(data)
            return
        view = memoryview(bytes(data))
        stuck = None
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                n = 0
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                self.peer_closed = True  # nobody there: the bytes are lost, as on a wire
                self.dropped_bytes += len(view)
                return
            if n:
                view = view[n:]
                stuck = None
                continue
            now = time.monotonic()
            if stuck is None:
                stuck = now
            elif now - stuck > self.write_timeout_s:
                self.dropped_bytes += len(view)
                return
            await asyncio.sleep(0.001)

    def close(self):
        fd, self.fd = self.fd, None
        if fd is not None and self.close_fd:
            os.close(fd)


class SerialPort:
    """A serial device through pyserial: 8N1, non-blocking (timeout=0). For USB RS-485
    adapters, or a pty slave path."""

    def __init__(self, path, baudrate=BAUD):
        import serial  # pyserial, a PC-only dependency (requirements.txt)

        self.path = path
        self._s = serial.Serial(
            path,
            baudrate=baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=0,
            write_timeout=0,
            xonxoff=False,
            rtscts=False,
            dsrdtr=False,
        )

    def readinto(self, buf):
        s = self._s
        if s is None:
            return 0
        # in_waiting (an ioctl) rather than a bare read: a pty whose master went away
        # makes pyserial's read raise instead of returning nothing.
        n = min(s.in_waiting, len(buf))
        if not n:
            return 0
        data = s.read(n)
        buf[: len(data)] = data
        return len(data)

    async def write(self, data):
        if self._s is None:
            raise OSError(errno.EBADF, "port closed")
        view = memoryview(bytes(data))
        while view:
            n = self._s.write(view) or 0  # non-blocking: how many bytes went out
            view = view[n:]
            if view:
                await asyncio.sleep(0.001)

    def close(self):
        s, self._s = self._s, None
        if s is not None:
            s.close()


class _MemoryPort:
    def __init__(self):
        self.inbox = bytearray()
        self.peer = None
        self.closed = False

    def readinto(self, buf):
        n = min(len(buf), len(self.inbox))
        if n:
            buf[:n] = self.inbox[:n]
            del self.inbox[:n]
        return n

    async def write(self, data):
        if self.closed:
            raise OSError(errno.EBADF, "port closed")
        if not self.peer.closed:
            self.peer.inbox += data

    def close(self):
        self.closed = True


def memory_pair():
    """Two in-process ports joined back to back: what a writes, b reads, and back."""
    a = _MemoryPort()
    b = _MemoryPort()
    a.peer = b
    b.peer = a
    return a, b
