# Test vectors from lib/cta2045/PROTOCOL.md section 5 (published frames from EPRI's
# library tests, pycta2045 tests and Rinnai captures) and its table of extra frames.
# Each: (frame hex, message name, fields). Shared by the CPython and MicroPython runs.

PUBLISHED = [
    ("08 01 00 02 03 0E E9 4F", "app_ack", {"opcode": 0x0E}),
    ("08 01 00 02 03 0B EF 4C", "app_ack", {"opcode": 0x0B}),
    ("08 01 00 02 03 07 F7 48", "app_ack", {"opcode": 0x07}),
    ("08 01 00 02 03 01 04 42", "app_ack", {"opcode": 0x01}),
    ("08 01 00 02 01 01 0A 3E", "shed", {"duration": 0x01}),
    ("08 01 00 02 01 00 0C 3D", "shed", {"duration": 0x00}),
    ("08 01 00 02 01 11 E9 4E", "shed", {"duration": 0x11}),
    ("08 01 00 00 7E CD", "type_supported_query", {}),
    ("08 02 00 00 7A D0", "type_supported_query", {}),
    ("08 03 00 00 76 D3", "type_supported_query", {}),
    ("08 03 00 02 18 00 BA 75", "max_payload_query", {"op2": 0}),
    ("08 03 00 02 19 05 AD 7C", "max_payload", {"code": 5}),
    ("08 03 00 02 19 07 A9 7E", "max_payload", {"code": 7}),
    ("08 01 00 02 0E 01 E2 58", "comm_status", {"status": 1}),
    ("08 01 00 02 12 00 D8 5F", "op_state_query", {"op2": 0}),
    ("08 01 00 02 13 00 D5 61", "op_state", {"state": 0}),
    ("08 02 00 02 01 01 04 43", "get_information", {}),
    ("08 02 00 02 06 00 F6 4C", "commodity_read", {}),
    ("08 32 00 02 01 01 E2 34", "unknown_type", {}),
    ("08 02 00 07 0C 00 00 3C 00 05 02 A9 4B", "advanced_load_up", {"duration_min": 60, "value": 5, "units": 2}),
]

# Vector 5: EPRI's deliberately broken checksum (the correct one is 02 43).
BAD_CHECKSUM = "08 01 00 02 03 02 04 42"
BAD_CHECKSUM_FIXED = "08 01 00 02 03 02 02 43"

LINK = [("06 00", "link_ack", {}), ("15 05", "link_nak", {"nak": 5}), ("15 07", "link_nak", {"nak": 7})]

EXTRA = [
    ("08 01 00 02 02 00 09 3F", "end_shed", {"op2": 0}),
    ("08 01 00 02 17 1E 8D 87", "load_up", {"duration": 0x1E}),
    ("08 01 00 02 0A 2A 9C 79", "critical_peak", {"duration": 0x2A}),
    ("08 01 00 02 0B 00 ED 51", "grid_emergency", {"duration": 0}),
    ("08 01 00 02 11 01 D9 5E", "customer_override", {"override": 1}),
    ("08 01 00 02 11 00 DB 5D", "customer_override", {"override": 0}),
    ("08 01 00 02 03 11 E3 52", "app_ack", {"opcode": 0x11}),
    ("08 01 00 02 04 05 F8 48", "app_nak", {"reason": 5}),
    ("08 01 00 02 06 3F 7E 86", "power_level", {"power": 0x3F}),
    ("08 01 00 02 07 41 77 8A", "present_price", {"price": 0x41}),
    ("08 01 00 02 16 4E 30 B5", "time_sync", {"timesync": 0x4E}),
    ("08 01 00 02 0E 00 E4 57", "comm_status", {"status": 0}),
    ("08 01 00 02 13 02 D1 63", "op_state", {"state": 2}),
    ("08 02 00 02 02 00 03 44", "utc_time", {}),
    ("08 02 00 03 0C 80 00 9B 20", "advanced_load_up", {"rc": 0}),
    ("08 03 00 02 17 00 BD 73", "bit_rate", {"rate": 0}),
    # PROTOCOL.md section 4.5 and 4.6 examples
    ("08 02 00 02 03 03 F9 49", "setpoint", {}),
    ("08 02 00 02 03 04 F7 4A", "present_temperature", {}),
    (
        "08 02 00 09 03 03 00 02 00 00 7D 80 00 FD 3E",
        "setpoint",
        {"device_type": 2, "temp_units": 0, "setpoint1": 125, "setpoint2": -32768},
    ),
    ("08 02 00 02 0C 00 E4 58", "advanced_load_up", {}),
    ("08 02 00 07 0C 00 00 00 00 00 FF E9 4E", "advanced_load_up", {"duration_min": 0, "value": 0, "units": 0xFF}),
]

ALL_VALID = PUBLISHED + EXTRA
