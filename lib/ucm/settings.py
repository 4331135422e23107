# Every protocol timer and policy of the engine, as one named setting each. Defaults come
# from lib/cta2045/PROTOCOL.md (section numbers beside each); times are milliseconds.


class Settings:
    # --- link layer, section 2.2 (timing) and 2.4 (retries)
    t_ma_ms = 50  # end of a received frame -> our link ACK/NAK: 40..200 ms
    t_ar_ms = 100  # our link ACK -> our application reply: >= 100 ms
    t_im_ms = 100  # after a link ACK/NAK, before we start a new frame: >= 100 ms
    t_ml_ms = 500  # first -> last byte of one frame; then NAK 05
    ack_timeout_ms = 200  # our frame's last byte -> the peer's link ACK
    reply_timeout_ms = 3000  # the peer's link ACK -> its App ACK/NAK or reply
    max_attempts = 3  # sends of one frame without a link ACK (UNCONFIRMED, section 2.4)
    retry_gap_ms = 500  # between the starts of two attempts
    hold_after_sgd_ms = 600  # no new request this soon after an SGD-initiated frame
    max_payload_reply_ms = 1000  # our link ACK of a 0x18 query -> our 0x19 (section 2.2)
    idle_reset_ms = 900000  # no valid traffic this long: back to defaults (section 2.6)
    baud = 19200  # for wire-time estimates: 10 bits a byte at 8N1
    max_payload_code = 7  # what we advertise: 0x07 = 256 bytes (section 2.6)
    # SGD-initiated Basic opcode we do not handle (section 3.3, sources disagree):
    # 7 = link NAK 07, 6 = link NAK 06, 0 = link ACK then App NAK 01
    unsupported_basic = 7
    app_ack_op_state = False  # App-ACK an unsolicited 0x13 (only EPRI's simulator does)
    answer_info = True  # answer the SGD's GetInformation about the UCM; False = NAK 07
    ucm_device_type = 0  # device type in that answer (0 = unspecified, section 4.2)
    utc_unknown_rc = 6  # RC of our Get UTC answer while the time is unknown (other error)
    # --- application, section 3.4
    heartbeat_ms = 60000  # outside-communication-status period
    poll_state_ms = 60000  # operational-state query period (0 = off)
    poll_energy_ms = 60000  # commodity read period, if Intermediate DR is supported
    startup_retry_ms = 10000  # link down: try the start-up sequence again after this
    down_after_failures = 2  # requests in a row without a link ACK -> link down
    confirm_state_ms = 1000  # after an App ACK of a DR command, query the state
    log_size = 64  # frames kept for the API's frame log

    # Each number's range is in ucm.limits (imported only while settings are checked).
    # A change of a name in _RESTART applies to an engine made after it (buffers sized
    # at start).
    _RESTART = ("log_size", "max_payload_code")

    def __init__(self, **kw):
        self.update(kw)

    def update(self, kw, replace=False):
        """Set several settings; replace=True puts every other one back to its default.
        An unknown name, a wrong type or a value out of range raises ValueError("name:
        why") and changes nothing."""
        if kw:
            from ucm.limits import check
        for k in kw:
            why = check(k, kw[k])
            if why:
                raise ValueError("%s: %s" % (k, why))
        if replace:
            for k in self.to_dict():
                setattr(self, k, getattr(Settings, k))
        for k in kw:
            setattr(self, k, kw[k])

    def to_dict(self):
        d = {}
        for k in dir(Settings):
            if k[0] != "_" and not callable(getattr(Settings, k)):
                d[k] = getattr(self, k)
        return d
