# The range of every engine setting (ucm.settings.Settings), and the check that uses it:
# Settings.update, PUT /api/config and the firmware's boot-time check of a saved config
# all ask check(). Kept out of ucm.settings so that a board can drop it from the heap
# between checks; import it where a check is needed.

from ucm.settings import Settings

# The range of every number: (low, high) or (low, high, another allowed value, e.g.
# 0 = off); booleans have no range. Timers keep to the protocol's windows.
RANGES = {
    "t_ma_ms": (40, 200),
    "t_ar_ms": (100, 5000),
    "t_im_ms": (100, 5000),
    "t_ml_ms": (100, 10000),
    "ack_timeout_ms": (100, 5000),
    "reply_timeout_ms": (200, 60000),
    "max_attempts": (1, 10),
    "retry_gap_ms": (100, 60000),
    "hold_after_sgd_ms": (0, 10000),
    "max_payload_reply_ms": (100, 10000),
    "idle_reset_ms": (60000, 86400000),
    "baud": (1200, 3686400),
    "max_payload_code": (5, 9),
    "unsupported_basic": (6, 7, 0),
    "ucm_device_type": (0, 65535),
    "utc_unknown_rc": (1, 255),
    "heartbeat_ms": (10000, 3600000, 0),
    "poll_state_ms": (1000, 3600000, 0),
    "poll_energy_ms": (1000, 3600000, 0),
    "startup_retry_ms": (1000, 3600000),
    "down_after_failures": (1, 100),
    "confirm_state_ms": (100, 60000, 0),
    "log_size": (1, 256),
}


def check(name, v):
    """Why value v cannot be setting `name` ("unknown setting", "must be 40..200"), or
    None when it can."""
    ref = getattr(Settings, name, None) if name[:1] != "_" else None
    if ref is None or callable(ref):
        return "unknown setting"
    if type(v) is not type(ref):
        return "must be " + ("true or false" if type(ref) is bool else "an integer")
    r = RANGES.get(name)
    w = r and outside(r, v)
    return "must be " + w if w else None


def outside(r, n):
    """None when n is in the range r ((low, high) or (low, high, another allowed
    value)), else the range as text: "40..200", "0 or 10000..3600000"."""
    if r[0] <= n <= r[1] or r[2:] == (n,):
        return None
    return "%s%d..%d" % ("%d or " % r[2] if r[2:] else "", r[0], r[1])
