# GET /metrics: the engine's counters and state, and the firmware's, in the Prometheus
# text exposition format (version 0.0.4), for a scraper on the home network.

_STATES = ("down", "negotiating", "up")


def _line(out, name, value, help_=None, kind="gauge", labels=""):
    if help_:
        out.append("# HELP ucm_%s %s\n# TYPE ucm_%s %s\n" % (name, help_, name, kind))
    if value is None:
        return
    if value is True or value is False:
        value = int(value)
    out.append("ucm_%s%s %s\n" % (name, labels, value))


def render(status, firmware=None):
    """The exposition text for status (Engine.status()) and firmware (the "firmware"
    object of /api/status, or None)."""
    out = []
    link = status["link"]
    _line(out, "uptime_seconds", status["uptime_s"], "Seconds since the firmware started.")
    _line(out, "link_up", link["state"] == "up", "1 when the CTA-2045 link to the SGD is up.")
    first = True
    for s in _STATES:
        _line(out, "link_state", link["state"] == s, "Link state: 1 for the current one." if first else None,
              labels='{state="%s"}' % s)
        first = False
    _line(out, "link_last_rx_age_seconds", link["last_rx_age_s"], "Seconds since the last valid frame from the SGD.")
    ops = status["sgd"]["op_state"]
    _line(out, "sgd_op_state", ops["code"] if ops else None, "The SGD's operational state code (CTA-2045 0x13 reply).")
    _line(out, "upstream", status["upstream"], "1 while the UCM reports outside communication as found.")
    ev = status["event"]
    _line(out, "event_active", ev is not None, "1 while a demand-response event is active.")
    _line(out, "event_remaining_seconds", ev["remaining_s"] if ev else None, "Seconds left of the active event.")
    c = status["counters"]
    for k in sorted(c):
        _line(out, k + "_total", c[k], "Engine counter " + k + ".", "counter")
    if firmware:
        w = firmware.get("wifi")
        if w:
            _line(out, "wifi_online", w["online"], "1 while the station is joined to the network.")
            _line(out, "wifi_drops_total", w["drops"], "Times the joined network was lost.", "counter")
        _line(out, "mem_free_bytes", firmware.get("mem_free"), "gc.mem_free() at the last status.")
        tasks = firmware.get("tasks") or {}
        first = True
        for name in sorted(tasks):
            _line(out, "task_restarts_total", tasks[name]["restarts"],
                  "Restarts of a firmware task." if first else None, "counter", '{task="%s"}' % name)
            first = False
    return "".join(out)
