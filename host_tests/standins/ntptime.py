# PC stand-in for MicroPython's `ntptime`, for host tests only (never deployed).
host = "pool.ntp.org"
calls = []
fail = [False]


def settime():
    calls.append(host)
    if fail[0]:
        raise OSError(110, "ETIMEDOUT")
