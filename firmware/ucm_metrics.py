# GET /metrics: the engine's counters and state, and the firmware's, in the Prometheus
# text exposition format (version 0.0.4), for a scraper on the home network.

_STATES = ("down", "negotiating", "up")


def _line(name, value, help_=None, kind="gauge", labels=""):
    out = ""
    if help_:
        out = "# HELP ucm_%s %s\n# TYPE ucm_%s %s\n" % (name, help_, name, kind)
    if value is None:
        return out
    if value is True or value is False:
        value = int(value)
    return out + "ucm_%s%s %s\n" % (name, labels, value)


def render(status, firmware=None):
    """The exposition text for status (Engine.status()) and firmware (the "firmware"
    object of /api/status, or None), as one string."""
    return "".join(lines(status, firmware))


def lines(status, firmware=None):
    """The same text, one metric at a time (GET /metrics streams it: no whole-text
    string on the heap)."""
    link = status["link"]
    yield _line("uptime_seconds", status["uptime_s"], "Seconds since start.")
    yield _line("link_up", link["state"] == "up", "1 while the CTA-2045 link is up.")
    first = True
    for s in _STATES:
        yield _line(
            "link_state",
            link["state"] == s,
            "1 for the current link state." if first else None,
            labels='{state="%s"}' % s,
        )
        first = False
    yield _line("link_last_rx_age_seconds", link["last_rx_age_s"], "Seconds since the SGD's last valid frame.")
    ops = status["sgd"]["op_state"]
    yield _line("sgd_op_state", ops["code"] if ops else None, "The SGD's operational state (0x13).")
    yield _line("upstream", status["upstream"], "1 while outside communication is found.")
    ev = status["event"]
    yield _line("event_active", ev is not None, "1 during a DR event.")
    yield _line("event_remaining_seconds", ev["remaining_s"] if ev else None, "Seconds left of the DR event.")
    c = status["counters"]
    for k in sorted(c):
        yield _line(k + "_total", c[k], "Engine counter " + k + ".", "counter")
    if firmware:
        w = firmware.get("wifi")
        if w:
            yield _line("wifi_online", w["online"], "1 while on the Wi-Fi network.")
            yield _line("wifi_drops_total", w["drops"], "Wi-Fi networks lost.", "counter")
        yield _line("mem_free_bytes", firmware.get("mem_free"), "Free heap bytes.")
        yield _line("mem_alloc_bytes", firmware.get("mem_alloc"), "Heap bytes in use.")
        yield _line("mem_free_low_bytes", firmware.get("mem_free_low"), "Lowest free heap bytes since boot.")
        tasks = firmware.get("tasks") or {}
        first = True
        for name in sorted(tasks):
            yield _line(
                "task_restarts_total",
                tasks[name]["restarts"],
                "Firmware task restarts." if first else None,
                "counter",
                '{task="%s"}' % name,
            )
            first = False
