# lib/ucm/schedule.py's POSIX TZ offsets against the tz database (Python's zoneinfo,
# with the pinned tzdata package as its fallback): every hour of 2026-2028 and the
# seconds around each change, for zones north and south, with and without DST.

import calendar
import datetime
import zoneinfo

import pytest

from ucm.schedule import TZ

ZONES = (
    ("America/New_York", "EST5EDT,M3.2.0,M11.1.0"),
    ("America/Chicago", "CST6CDT,M3.2.0,M11.1.0"),
    ("Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Europe/London", "GMT0BST,M3.5.0/1,M10.5.0"),
    ("Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3"),
    ("Pacific/Auckland", "NZST-12NZDT,M9.5.0,M4.1.0/3"),
    ("Asia/Kolkata", "IST-5:30"),
    ("America/Phoenix", "MST7"),
)


def test_zone_table_not_empty():
    assert len(ZONES) >= 8


@pytest.mark.parametrize("zone,posix", ZONES)
def test_offsets_match_the_tz_database(zone, posix):
    zi = zoneinfo.ZoneInfo(zone)
    tz = TZ(posix)
    start = calendar.timegm((2026, 1, 1, 0, 0, 0))
    end = calendar.timegm((2029, 1, 1, 0, 0, 0))
    changes = 0
    prev = None
    t = start
    while t < end:
        want = int(datetime.datetime.fromtimestamp(t, zi).utcoffset().total_seconds())
        got, dst = tz.offset(t)
        assert got == want, (zone, datetime.datetime.utcfromtimestamp(t), got, want)
        if prev is not None and want != prev:
            changes += 1
            # the second before and at the change, exactly
            for s in range(t - 3600, t + 1):
                w = int(datetime.datetime.fromtimestamp(s, zi).utcoffset().total_seconds())
                if w == want:
                    assert tz.offset(s)[0] == want and tz.offset(s - 1)[0] == prev, (zone, s)
                    break
        prev = want
        t += 3600
    assert changes == (6 if "," in posix else 0), (zone, changes)
