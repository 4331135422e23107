# A MicroPython board double for the deploy and packaging tests: it sits on a
# pseudo-terminal and speaks the raw REPL the way mpremote uses it (enter, soft reset,
# raw-paste, exec with its two end markers, exit), and runs what it is sent
# under CPython with the board's filesystem in a folder. So the real mpremote, and
# tools/deploy.py through it, can copy, stat, hash, remove, install with mip and reset
# without a board. sys.implementation answers with the version it is given.
#   b = FakeBoard(root, version=(1, 29, 0, "")); port = b.start(); ...; b.stop()
import builtins
import contextlib
import errno
import io
import os
import select
import threading
import types

BANNER = b"raw REPL; CTRL-B to exit\r\n>"
PASTE_WINDOW = 256
RP2_MPY = 6 | 3 << 8 | 4 << 10  # .mpy 6.3, armv6m: sys.implementation._mpy on a Pico W


class _Reset(BaseException):
    pass


class FakeBoard:
    def __init__(self, root, version=(1, 29, 0, ""), mpy=RP2_MPY):
        self.root = root
        self.version = version
        self.mpy = mpy
        self.resets = 0  # machine.reset() calls
        self.soft_resets = 0
        self.executed = []  # every code block run, in order
        self._stop = threading.Event()
        self._mode = "friendly"
        self._buf = bytearray()
        self._ns = None
        self._thread = None

    # --- the pty -----------------------------------------------------------------------

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        self._master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self._slave = slave  # kept open so the pty lives between mpremote runs
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self.port

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)

    def _write(self, data):
        os.write(self._master, data)

    def _loop(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self._master], [], [], 0.05)
            if not r:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                continue
            for b in data:
                self._byte(b)

    def _byte(self, b):
        if self._mode == "paste":
            if b == 0x04:  # end of the pasted code: acknowledge, then run it
                code = bytes(self._buf).decode()
                self._buf = bytearray()
                self._mode = "raw"
                self._write(b"\x04")
                self._run(code)
            else:
                self._buf.append(b)
                if len(self._buf) % PASTE_WINDOW == 0:
                    self._write(b"\x01")  # room for another window
            return
        if self._mode == "friendly":
            if b == 0x01:
                self._enter_raw()
            return
        if b == 0x01 and self._buf.endswith(b"\x05A"):  # raw-paste mode
            del self._buf[-2:]
            self._mode = "paste"
            self._write(b"R\x01" + PASTE_WINDOW.to_bytes(2, "little"))
        elif b == 0x01:
            self._enter_raw()
        elif b == 0x02:
            self._mode = "friendly"
            self._write(b"\r\nMicroPython v%d.%d.%d (board double)\r\n>>> " % tuple(self.version[:3]))
        elif b == 0x03:
            self._buf = bytearray()
        elif b == 0x04:
            if not self._buf:
                self.soft_resets += 1
                self._ns = None
                self._write(b"OK\r\nMPY: soft reboot\r\n" + BANNER)
            else:
                code = bytes(self._buf).decode()
                self._buf = bytearray()
                self._write(b"OK")
                self._run(code)
        else:
            self._buf.append(b)

    def _enter_raw(self):
        self._mode = "raw"
        self._buf = bytearray()
        self._write(BANNER)

    # --- running code --------------------------------------------------------------------

    def _run(self, code):
        self.executed.append(code)
        if self._ns is None:
            self._ns = {"__builtins__": self._builtins()}
        out = io.StringIO()
        err = ""
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "<stdin>", "exec"), self._ns)
        except _Reset:
            self.resets += 1
            self._ns = None
            self._mode = "friendly"
            return  # the board is gone: nothing more on the line
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            err = (
                'Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nOSError: [Errno '
                "%s] %s\r\n" % (e.errno, name)
            )
        except Exception as e:
            err = 'Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n%s: %s\r\n' % (
                type(e).__name__,
                e,
            )
        text = out.getvalue().replace("\n", "\r\n")
        self._write(text.encode() + b"\x04" + err.encode() + b"\x04>")

    def path(self, p):
        """The host path of a board path."""
        return os.path.join(self.root, p.lstrip("/"))

    def _builtins(self):
        board = self
        real = board.path

        def stat(p):
            st = os.stat(real(p))
            mode = 0x4000 if os.path.isdir(real(p)) else 0x8000
            return (mode, 0, 0, 0, 0, 0, st.st_size, 0, 0, 0)

        def ilistdir(p=""):
            for n in sorted(os.listdir(real(p or "/"))):
                full = os.path.join(real(p or "/"), n)
                yield (n, 0x4000 if os.path.isdir(full) else 0x8000, 0, os.path.getsize(full))

        def remove(p):
            if os.path.isdir(real(p)):
                raise OSError(errno.EISDIR, p)
            os.remove(real(p))

        fake_os = types.SimpleNamespace(
            stat=stat,
            ilistdir=ilistdir,
            listdir=lambda p="": sorted(os.listdir(real(p or "/"))),
            mkdir=lambda p: os.mkdir(real(p)),
            rmdir=lambda p: os.rmdir(real(p)),
            remove=remove,
            rename=lambda a, b: os.rename(real(a), real(b)),
            getcwd=lambda: "/",
            chdir=lambda p: None,
            sep="/",
        )

        def reset():
            raise _Reset()

        modules = {
            "os": fake_os,
            "sys": types.SimpleNamespace(
                implementation=types.SimpleNamespace(name="micropython", version=tuple(board.version), _mpy=board.mpy),
                path=["", ".frozen", "/lib"],
                platform="rp2",
            ),
            "machine": types.SimpleNamespace(reset=reset, bootloader=reset),
            "time": types.SimpleNamespace(sleep_ms=lambda ms: None, sleep=lambda s: None),
        }
        real_import = builtins.__import__

        def imp(name, globals=None, locals=None, fromlist=(), level=0):
            if name in modules:
                return modules[name]
            return real_import(name, globals, locals, fromlist, level)

        def fake_open(p, mode="r", *args, **kwargs):
            return open(real(p), mode, *args, **kwargs)

        b = dict(vars(builtins))
        b["__import__"] = imp
        b["open"] = fake_open
        return b

    # --- for the tests ----------------------------------------------------------------------

    def tree(self):
        """{board path: bytes} of every file on the board."""
        files = {}
        for dirpath, _, names in os.walk(self.root):
            for n in names:
                full = os.path.join(dirpath, n)
                with open(full, "rb") as f:
                    files["/" + os.path.relpath(full, self.root).replace(os.sep, "/")] = f.read()
        return files
