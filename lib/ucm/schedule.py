# The on-device schedule, sans-IO: local time from a POSIX TZ string (DST rules
# included), a weekly plan of windows each running one DR command, and the decision of
# what to send at a given moment. The firmware calls Scheduler.step(utc, manual) every
# few seconds and sends what it returns; nothing here reads a clock.
#   tz = TZ("CET-1CEST,M3.5.0,M10.5.0/3")       tz.offset(utc) -> (seconds east, is DST)
#   plan = Plan([{"days": "mon-fri", "start": "16:00", "end": "21:00", "command": "shed"}])
#   s = Scheduler(plan, tz)
#   s.step(utc, manual_event)  -> None, ("start", command, duration_s, window), ("end", window)
# Rules: no window runs while the time is unknown (utc None); a window active at start-up
# or after a clock jump is applied at once for the time it has left; a command sent by
# hand (manual_event true) wins until its event ends, then the schedule resumes; when a
# window ends, its event is ended unless one sent by hand runs.

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
GROUPS = {"daily": DAYS, "weekdays": DAYS[1:6], "weekends": ("sat", "sun")}
COMMANDS = ("shed", "load_up", "critical_peak", "grid_emergency")
DAY_S = 86400


def days_from_civil(y, m, d):
    """Days from 1970-01-01 to the date (proleptic Gregorian)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) of a day number from 1970-01-01."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


class TZ:
    """A POSIX TZ string: std offset [dst [offset] [,start[/time],end[/time]]], e.g.
    "EST5EDT,M3.2.0,M11.1.0", "AEST-10AEDT,M10.1.0,M4.1.0/3", "UTC0", "<+0530>-5:30".
    Offsets are hours west of UTC as POSIX writes them; a DST zone without rules takes
    the US ones (M3.2.0,M11.1.0). ValueError naming the part that is wrong."""

    def __init__(self, text):
        self.text = text
        self._s = text
        self._i = 0
        std = self._name()
        self.std = -self._offset(True)
        self.dst = None
        self.rules = None
        if self._i < len(self._s):
            self._name()
            self.dst = self.std + 3600
            if self._i < len(self._s) and self._s[self._i] != ",":
                self.dst = -self._offset(True)
            rules = self._s[self._i + 1 :] if self._i < len(self._s) else "M3.2.0,M11.1.0"
            parts = rules.split(",")
            if len(parts) != 2:
                raise ValueError("tz: two DST rules (start,end) after the names: %s" % text)
            self.rules = [self._rule(p) for p in parts]
        self.name = std

    def _name(self):
        s, i = self._s, self._i
        if i < len(s) and s[i] == "<":
            j = s.find(">", i)
            if j < 0:
                raise ValueError("tz: '<' without '>': %s" % self.text)
            self._i = j + 1
            return s[i + 1 : j]
        j = i
        while j < len(s) and s[j].isalpha():
            j += 1
        if j - i < 3:
            raise ValueError("tz: a zone name of 3 letters or more first: %s" % self.text)
        self._i = j
        return s[i:j]

    def _offset(self, required):
        s, i = self._s, self._i
        j = i
        while j < len(s) and s[j] not in ",<" and not s[j].isalpha():
            j += 1
        if j == i:
            if required:
                raise ValueError("tz: an offset after the name: %s" % self.text)
            return None
        self._i = j
        return _hms(s[i:j], self.text)

    def _rule(self, p):
        date, _, t = p.partition("/")
        secs = _hms(t, self.text) if t else 7200
        try:
            if date[0] == "M":
                m, w, d = (int(x) for x in date[1:].split("."))
                if not (1 <= m <= 12 and 1 <= w <= 5 and 0 <= d <= 6):
                    raise ValueError
                return ("M", m, w, d, secs)
            if date[0] == "J":
                n = int(date[1:])
                if not 1 <= n <= 365:
                    raise ValueError
                return ("J", n, 0, 0, secs)
            n = int(date)
            if not 0 <= n <= 365:
                raise ValueError
            return ("N", n, 0, 0, secs)
        except (ValueError, IndexError):
            raise ValueError("tz: a DST rule is Mm.w.d, Jn or n, with /time: %r in %s" % (p, self.text))

    @staticmethod
    def _day(rule, y):
        kind, a, w, d, _ = rule
        if kind == "J":
            return days_from_civil(y, 1, 1) + a - 1 + (1 if _leap(y) and a >= 60 else 0)
        if kind == "N":
            return days_from_civil(y, 1, 1) + a
        first = days_from_civil(y, a, 1)
        day = first + (d - (first + 4) % 7) % 7 + (w - 1) * 7
        nxt = days_from_civil(y + (a == 12), a % 12 + 1, 1)
        while day >= nxt:
            day -= 7
        return day

    def offset(self, utc):
        """(seconds east of UTC, True while DST) at Unix time utc."""
        if self.rules is None:
            return self.std, False
        y = civil_from_days((utc + self.std) // DAY_S)[0]
        start = self._day(self.rules[0], y) * DAY_S + self.rules[0][4] - self.std
        end = self._day(self.rules[1], y) * DAY_S + self.rules[1][4] - self.dst
        dst = start <= utc < end if start < end else not end <= utc < start
        return (self.dst, True) if dst else (self.std, False)

    def local(self, utc):
        """Local time as seconds from 1970-01-01 00:00 local."""
        return utc + self.offset(utc)[0]


def _hms(t, text):
    sign = -1 if t[:1] == "-" else 1
    t = t.lstrip("+-")
    try:
        p = [int(x) for x in t.split(":")]
        if not 1 <= len(p) <= 3 or not all(0 <= x < 168 for x in p) or any(x > 59 for x in p[1:]):
            raise ValueError
    except ValueError:
        raise ValueError("tz: a time is [+-]hh[:mm[:ss]], not %r in %s" % (t, text))
    return sign * (p[0] * 3600 + (p[1] * 60 if len(p) > 1 else 0) + (p[2] if len(p) > 2 else 0))


def _minutes(t, what):
    try:
        h, m = t.split(":")
        h, m = int(h), int(m)
        if len(t) != 5 or not (0 <= h <= 24 and 0 <= m <= 59) or h == 24 and m:
            raise ValueError
    except ValueError:
        raise ValueError("%s: a time HH:MM, 00:00..24:00, not %r" % (what, t))
    return h * 60 + m


def _days(v, what):
    if type(v) is str:
        if v in GROUPS:
            return GROUPS[v]
        a, dash, b = v.partition("-")
        if dash and a in DAYS and b in DAYS:
            i, j = DAYS.index(a), DAYS.index(b)
            return tuple(DAYS[(i + k) % 7] for k in range((j - i) % 7 + 1))
        v = v.split(",")
    if type(v) not in (list, tuple) or not v or any(d not in DAYS for d in v):
        raise ValueError("%s: days are sun..sat, a range (mon-fri), a list, daily, weekdays or weekends" % what)
    return tuple(v)


class Plan:
    """A weekly plan: windows {"days", "start", "end", "command"}, each on its days from
    start to end (local time; end 24:00 for midnight, no window crosses midnight).
    ValueError naming the window and the field for a bad one, or two that overlap."""

    def __init__(self, windows):
        if type(windows) is not list or len(windows) > 32:
            raise ValueError("windows: a list of at most 32")
        self.windows = []
        by_day = {}
        for n, w in enumerate(windows):
            what = "windows[%d]" % n
            if type(w) is not dict:
                raise ValueError(what + ": an object")
            for k in w:
                if k not in ("days", "start", "end", "command"):
                    raise ValueError("%s.%s: unknown field" % (what, k))
            days = _days(w.get("days"), what + ".days")
            a = _minutes(w.get("start", ""), what + ".start")
            b = _minutes(w.get("end", ""), what + ".end")
            if b <= a:
                raise ValueError("%s: end must be after start (a window ends by 24:00)" % what)
            if w.get("command") not in COMMANDS:
                raise ValueError("%s.command: one of %s" % (what, ", ".join(COMMANDS)))
            for d in days:
                for m, a2, b2 in by_day.get(d, ()):
                    if a < b2 and a2 < b:
                        raise ValueError("%s overlaps windows[%d] on %s" % (what, m, d))
                by_day.setdefault(d, []).append((n, a, b))
            self.windows.append((tuple(DAYS.index(d) for d in days), a * 60, b * 60, w["command"]))

    def active(self, local):
        """(window number, seconds left) of the window active at local time, or None."""
        day = local // DAY_S
        wd = (day + 4) % 7  # 1970-01-01 was a Thursday
        sec = local - day * DAY_S
        for n, (days, a, b, _) in enumerate(self.windows):
            if wd in days and a <= sec < b:
                return n, b - sec
        return None

    def next_change(self, local):
        """Seconds from local time to the next start or end of a window (None: no windows)."""
        best = None
        day = local // DAY_S
        for k in range(8):
            wd = (day + k + 4) % 7
            for days, a, b, _ in self.windows:
                if wd in days:
                    for edge in (a, b):
                        t = (day + k) * DAY_S + edge - local
                        if t > 0 and (best is None or t < best):
                            best = t
            if best is not None:
                return best
        return best


class Scheduler:
    """What to send, moment by moment (see the rules at the top)."""

    def __init__(self, plan, tz):
        self.plan = plan
        self.tz = tz
        self.applied = None  # (window number, local day) of the window whose event we sent
        self.state = "time unknown"

    def step(self, utc, manual=False):
        if utc is None:
            self.state = "time unknown"
            return None
        local = self.tz.local(utc)
        hit = self.plan.active(local)
        if manual:
            # the event sent by hand replaced ours: nothing to end, and the window still
            # active when it is over is applied again for the time it has left
            self.applied = None
            self.state = "waiting: a command sent by hand runs"
            return None
        if hit is None:
            self.state = "idle"
            if self.applied is not None:
                n = self.applied[0]
                self.applied = None
                return ("end", n)
            return None
        n, left = hit
        key = (n, local // DAY_S)
        self.state = "window %d" % n
        if key == self.applied:
            return None
        self.applied = key
        return ("start", self.plan.windows[n][3], left, n)
