# The on-device schedule (lib/ucm/schedule.py) on a fake clock: POSIX TZ offsets on DST
# change days (north and south), window edges, overlapping windows refused, bad input
# named, time unknown, a reboot mid-window, a command sent by hand mid-window, clock
# jumps, midnight. Also runs under MicroPython.

from checks import raises, rows

from ucm.schedule import DAY_S, Plan, Scheduler, TZ, civil_from_days, days_from_civil


def utc(y, mo, d, h=0, mi=0, s=0):
    return days_from_civil(y, mo, d) * DAY_S + h * 3600 + mi * 60 + s


# (TZ, UTC instant, expected offset east in hours, DST): the seconds around each change
DST_CASES = (
    ("EST5EDT,M3.2.0,M11.1.0", utc(2026, 3, 8, 6, 59, 59), -5, False),
    ("EST5EDT,M3.2.0,M11.1.0", utc(2026, 3, 8, 7), -4, True),  # 02:00 EST -> 03:00 EDT
    ("EST5EDT,M3.2.0,M11.1.0", utc(2026, 11, 1, 5, 59, 59), -4, True),
    ("EST5EDT,M3.2.0,M11.1.0", utc(2026, 11, 1, 6), -5, False),  # 02:00 EDT -> 01:00 EST
    ("EST5EDT", utc(2026, 3, 8, 7), -4, True),  # no rules: the US ones
    ("CET-1CEST,M3.5.0,M10.5.0/3", utc(2026, 3, 29, 0, 59, 59), 1, False),
    ("CET-1CEST,M3.5.0,M10.5.0/3", utc(2026, 3, 29, 1), 2, True),
    ("CET-1CEST,M3.5.0,M10.5.0/3", utc(2026, 10, 25, 0, 59, 59), 2, True),
    ("CET-1CEST,M3.5.0,M10.5.0/3", utc(2026, 10, 25, 1), 1, False),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", utc(2026, 4, 4, 15, 59, 59), 11, True),  # south: DST over new year
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", utc(2026, 4, 4, 16), 10, False),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", utc(2026, 10, 3, 15, 59, 59), 10, False),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", utc(2026, 10, 3, 16), 11, True),
    ("UTC0", utc(2026, 7, 1), 0, False),
    ("<+0530>-5:30", utc(2026, 7, 1), 5.5, False),
    ("NZST-12NZDT,M9.5.0,M4.1.0/3", utc(2028, 1, 1), 13, True),
    ("XXX3YYY,J60/2,J300/2", utc(2028, 2, 29, 12), -3, False),  # Jn skips Feb 29: J60 is Mar 1
    ("XXX3YYY,J60/2,J300/2", utc(2028, 3, 1, 6), -2, True),
    ("XXX3YYY,59/2,300/2", utc(2028, 2, 29, 6), -2, True),  # n counts Feb 29 (zero-based)
)


def test_tz_offsets_on_dst_change_days():
    for text, t, hours, dst in rows(DST_CASES, 15):
        off, is_dst = TZ(text).offset(t)
        assert (off, is_dst) == (int(hours * 3600), dst), (text, t, off, is_dst)


def test_tz_refuses_bad_strings_by_part():
    for text, part in rows(
        (
            ("", "a zone name"),
            ("E5", "a zone name"),
            ("EST", "an offset"),
            ("EST5EDT,M3.2.0", "two DST rules"),
            ("EST5EDT,M13.2.0,M11.1.0", "a DST rule"),
            ("EST5EDT,M3.2.0,J400", "a DST rule"),
            ("EST5:99", "a time"),
            ("<+0530-5:30", "'<' without '>'"),
        ),
        8,
    ):
        e = raises(ValueError, TZ, text)
        assert part in str(e), (text, e)


def test_civil_days_round_trip():
    for d in (-719468, -1, 0, 1, 19000, 20454, 2932896):
        y, m, dd = civil_from_days(d)
        assert days_from_civil(y, m, dd) == d
    assert civil_from_days(days_from_civil(2028, 2, 29)) == (2028, 2, 29)
    assert (days_from_civil(2026, 12, 7) + 4) % 7 == 1  # a Monday


PLAN = [
    {"days": "mon-fri", "start": "16:00", "end": "21:00", "command": "shed"},
    {"days": "weekdays", "start": "13:00", "end": "16:00", "command": "load_up"},
    {"days": ["sat", "sun"], "start": "10:00", "end": "24:00", "command": "critical_peak"},
]
NY = "EST5EDT,M3.2.0,M11.1.0"


def test_window_edges_local_time():
    p = Plan(PLAN)
    tz = TZ(NY)
    mon = days_from_civil(2026, 12, 7)  # a Monday, EST (UTC-5)
    at = lambda h, mi=0, s=0, day=mon: p.active(tz.local(day * DAY_S + h * 3600 + mi * 60 + s + 5 * 3600))  # noqa: E731
    assert at(12, 59, 59) is None
    assert at(13) == (1, 3 * 3600)
    assert at(15, 59, 59) == (1, 1)
    assert at(16) == (0, 5 * 3600)  # the load up's end is the shed's start
    assert at(20, 59, 59) == (0, 1)
    assert at(21) is None
    assert at(23, 59, 59, mon + 5) == (2, 1)  # Saturday to 24:00
    assert at(0, 0, 0, mon + 6) is None and at(10, 0, 0, mon + 6) == (2, 14 * 3600)
    assert p.next_change(tz.local(mon * DAY_S + 5 * 3600 + 9 * 3600)) == 4 * 3600  # 09:00 -> 13:00
    assert p.next_change(tz.local((mon + 4) * DAY_S + 5 * 3600 + 22 * 3600)) == 12 * 3600  # Fri 22:00 -> Sat 10:00
    assert Plan([]).next_change(0) is None


def test_plan_refuses_overlaps_and_bad_fields():
    for windows, why in rows(
        (
            (
                PLAN + [{"days": "fri", "start": "20:00", "end": "22:00", "command": "shed"}],
                "windows[3] overlaps windows[0] on fri",
            ),
            ([{"days": "daily", "start": "10:00", "end": "10:00", "command": "shed"}], "end must be after start"),
            ([{"days": "mon", "start": "22:00", "end": "02:00", "command": "shed"}], "end must be after start"),
            ([{"days": "mon", "start": "9:00", "end": "10:00", "command": "shed"}], "windows[0].start: a time HH:MM"),
            ([{"days": "mon", "start": "09:00", "end": "24:30", "command": "shed"}], "windows[0].end: a time HH:MM"),
            ([{"days": "funday", "start": "09:00", "end": "10:00", "command": "shed"}], "windows[0].days"),
            ([{"days": "mon", "start": "09:00", "end": "10:00", "command": "boil"}], "windows[0].command: one of"),
            ([{"days": "mon", "start": "09:00", "end": "10:00", "command": "shed", "x": 1}], "windows[0].x: unknown"),
            ("mon", "windows: a list"),
        ),
        9,
    ):
        e = raises(ValueError, Plan, windows)
        assert why in str(e), (windows, e)
    # the same times on different days do not overlap; a wrap-around range
    Plan([{"days": "sat-mon", "start": "08:00", "end": "09:00", "command": "shed"},
          {"days": "tue-fri", "start": "08:00", "end": "09:00", "command": "load_up"}])  # fmt: skip


def _run(s, times, manual=()):
    return [s.step(t, t in manual) for t in times]


def test_scheduler_starts_ends_and_knows_no_time():
    s = Scheduler(Plan(PLAN), TZ(NY))
    mon = utc(2026, 12, 7, 5)  # 00:00 EST on a Monday
    assert s.step(None) is None and s.state == "time unknown"
    assert s.step(mon + 12 * 3600) is None and s.state == "idle"
    assert s.step(mon + 13 * 3600) == ("start", "load_up", 3 * 3600, 1)
    assert s.step(mon + 14 * 3600) is None  # running: nothing again
    assert s.step(None) is None and s.state == "time unknown"  # the clock lost: no change
    assert s.step(mon + 16 * 3600) == ("start", "shed", 5 * 3600, 0)
    assert s.step(mon + 21 * 3600) == ("end", 0)
    assert s.step(mon + 22 * 3600) is None


def test_reboot_mid_window_applies_what_is_left():
    s = Scheduler(Plan(PLAN), TZ(NY))  # a fresh scheduler: the board just started
    assert s.step(utc(2026, 12, 7, 5) + 18 * 3600 + 30 * 60) == ("start", "shed", 2 * 3600 + 30 * 60, 0)


def test_manual_command_wins_until_its_event_ends():
    s = Scheduler(Plan(PLAN), TZ(NY))
    mon = utc(2026, 12, 7, 5)
    assert s.step(mon + 16 * 3600)[0] == "start"
    assert s.step(mon + 17 * 3600, True) is None and s.state.startswith("waiting")  # by hand: wins
    assert s.step(mon + 18 * 3600, True) is None
    assert s.step(mon + 19 * 3600) == ("start", "shed", 2 * 3600, 0)  # its event ended: resume
    assert s.step(mon + 20 * 3600, True) is None
    assert s.step(mon + 21 * 3600, True) is None  # the window ends under a manual event: no end sent
    assert s.step(mon + 21 * 3600 + 60) is None


def test_clock_jumps_and_dst_day():
    tz = TZ(NY)
    s = Scheduler(Plan(PLAN), tz)
    mon = utc(2026, 12, 7, 5)
    assert s.step(mon + 16 * 3600)[1] == "shed"
    # NTP moves the clock a day ahead, into Tuesday's shed: a new window instance
    assert s.step(mon + DAY_S + 17 * 3600) == ("start", "shed", 4 * 3600, 0)
    # and back into Monday's load up
    assert s.step(mon + 14 * 3600) == ("start", "load_up", 2 * 3600, 1)
    # on the spring-forward Sunday the weekend window starts at 10:00 EDT (14:00 UTC)
    sun = Scheduler(Plan(PLAN), tz)
    assert sun.step(utc(2026, 3, 8, 13, 59, 59)) is None
    assert sun.step(utc(2026, 3, 8, 14)) == ("start", "critical_peak", 14 * 3600, 2)
    # and on the fall-back Sunday at 10:00 EST (15:00 UTC)
    fall = Scheduler(Plan(PLAN), tz)
    assert fall.step(utc(2026, 11, 1, 14, 59, 59)) is None
    assert fall.step(utc(2026, 11, 1, 15))[0] == "start"


def test_midnight_window_then_next_day():
    p = Plan([{"days": "daily", "start": "22:00", "end": "24:00", "command": "load_up"},
              {"days": "daily", "start": "00:00", "end": "02:00", "command": "load_up"}])  # fmt: skip
    s = Scheduler(p, TZ("UTC0"))
    d = utc(2026, 12, 7)
    assert s.step(d + 23 * 3600) == ("start", "load_up", 3600, 0)
    assert s.step(d + DAY_S) == ("start", "load_up", 2 * 3600, 1)  # the next window at once
    assert s.step(d + DAY_S + 2 * 3600) == ("end", 1)
