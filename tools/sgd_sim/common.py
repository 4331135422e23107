# What the parts of the simulated heater share: the operational states, the Basic
# opcodes it acts on, the Intermediate requests it supports, its own requests, and
# SETTINGS, every setting with its default (the names of ucm.Settings where the
# quantity is the same).


from cta2045 import basic, names
from cta2045.frame import (
    MT_BASIC,
    MT_DATALINK,
    MT_INTERMEDIATE,
    build,
)
from cta2045.message import INTERMEDIATE, encode

# Operational states, PROTOCOL.md section 3.2.
IDLE_NORMAL = 0
RUNNING_NORMAL = 1
RUNNING_CURTAILED = 2
RUNNING_HEIGHTENED = 3
IDLE_CURTAILED = 4
IDLE_HEIGHTENED = 6
IDLE_OPTED_OUT = 11
RUNNING_OPTED_OUT = 12
STATE_NAMES = names.TABLES["state"].split()

# Basic DR messages by the codec's names (PROTOCOL.md section 3.1). The events, curtailing
# ones first:
CURTAIL = ("shed", "critical_peak", "grid_emergency")
EVENTS = CURTAIL + ("load_up",)
HEIGHTEN = ("load_up", "advanced_load_up")
# the settings the UCM sends, kept in status()["ucm"] under their names
RECORDED = (
    "power_level",
    "present_price",
    "next_price",
    "time_remaining",
    "grid_guidance",
    "time_sync",
    "pending_event_time",
    "pending_event_type",
)
# what is answered with an App ACK `03 op1`
APP_ACKED = EVENTS + RECORDED + ("end_shed", "comm_status")
OVERRIDE_OP1 = encode("customer_override")[4]  # the opcode of our override, which the UCM App-ACKs

# Intermediate DR requests by name -> feature name (PROTOCOL.md sections 4.2-4.6)
FEATURE_OF = {
    "get_information": "info",
    "commodity_read": "commodity",
    "setpoint": "setpoint",
    "present_temperature": "temperature",
    "advanced_load_up": "alu",
    "utc_time": "utc",
}
FEATURES = tuple(FEATURE_OF.values())
# the same by (op1, op2), for a request too short to decode
INTERMEDIATE_OPS = {(k >> 8, k & 0xFF): FEATURE_OF[e[0]] for k, e in INTERMEDIATE.items() if e[0] in FEATURE_OF}
DEVICE_TYPE_HPWH = 3  # water heater, heat pump (PROTOCOL.md section 4.2)
CAP_ALU = 1 << 6  # capability bit 6: Advanced Load Up
EPOCH_2000 = basic.EPOCH_2000

# The SGD's own requests: kind -> frame (PROTOCOL.md sections 2.5, 2.6, 2.7, 4.4).
DISCOVERY = ("mtsq_basic", "mtsq_intermediate", "mtsq_data_link", "max_payload_query")
REQUEST_FRAMES = {
    "mtsq_basic": encode("type_supported_query", mt=MT_BASIC),
    "mtsq_intermediate": encode("type_supported_query", mt=MT_INTERMEDIATE),
    "mtsq_data_link": encode("type_supported_query", mt=MT_DATALINK),
    "max_payload_query": encode("max_payload_query"),  # 08 03 00 02 18 00 BA 75
    "get_utc": encode("utc_time"),  # 08 02 00 02 02 00 03 44
}
MTSQ_TYPE = {"mtsq_basic": "basic_dr", "mtsq_intermediate": "intermediate_dr", "mtsq_data_link": "data_link"}

# Every setting with its default; SgdSim(**settings) overrides, unknown names are refused.
SETTINGS = {
    # link layer, PROTOCOL.md sections 2.1-2.4
    "t_ma_ms": 15,  # T_MA: frame end -> our link ACK/NAK (real heaters: 10-20 ms)
    "reply_min_ms": 210,  # our link ACK -> our application reply, seeded random in
    "reply_max_ms": 420,  # [reply_min_ms, reply_max_ms] (the Rinnai's spread)
    "ack_timeout_ms": 200,  # our frame -> the UCM's link ACK
    "reply_timeout_ms": 3000,  # the UCM's link ACK -> its App ACK or reply
    "max_attempts": 3,  # sends of one frame of ours (request or reply) without a link ACK
    "retry_gap_ms": 1000,  # between two attempts (the Rinnai's discovery spacing)
    "t_im_ms": 100,  # T_IM: after any link ACK/NAK, before we start a new frame
    "t_ml_ms": 500,  # first byte -> last byte of a frame, then NAK 05
    "max_payload_code": 0x05,  # our answer to 0x18 and the largest payload we take: 64
    # discovery, PROTOCOL.md section 2.7
    "discovery_ms": 22000,  # burst period while the UCM answers (0 = no discovery)
    "discovery_unanswered_ms": 32000,  # burst period while it does not
    "discovery_jitter_ms": 3000,  # seeded +- jitter on each period
    "first_discovery_ms": 1000,  # boot -> first burst
    "utc_query_ms": 0,  # period of our Get UTC (0 = never)
    # Basic DR, PROTOCOL.md sections 3.1-3.4
    "nak_when_override": True,  # App NAK 05 for events while the customer override is on
    "unknown_basic": 7,  # unsupported Basic opcode: 7 / 6 = link NAK 07 / 06, 0 = App NAK 01
    "unknown_duration_s": 14400,  # cap for events of unknown duration (code 0/0xFF); 0 = none
    "comm_loss_cancel_s": 0,  # cancel an event this long without comm status (EPRI: 300)
    # Intermediate DR, PROTOCOL.md section 4
    "intermediate": True,  # False: MTSQ 08 02 and every 08 02 frame get NAK 06
    "features": FEATURES,  # supported Intermediate requests; others get link NAK 07
    "vendor_id": 0x7FFF,
    "model": "HPWH-SIM-50",
    "serial": None,  # None: derived from the seed
    "firmware": (2024, 5, 12, 1, 3),  # year, month (1-12), day, major, minor
    "utc_start": None,  # our clock at boot, Unix seconds (None: the wall clock)
    # tank model (deterministic), energies in Wh above the inlet temperature
    "capacity_wh": 12000,  # stored energy of a full tank at setpoint_f
    "setpoint_f": 125,
    "inlet_f": 50,
    "min_setpoint_f": 90,
    "max_setpoint_f": 140,
    "initial_take_wh": 300,  # energy needed to reach the setpoint at boot
    "heat_start_wh": 900,  # start heating when the take exceeds this; stop at 0
    "element_fraction": 0.4,  # resistive element when the take exceeds this share
    "curtail_limit_fraction": 0.7,  # while curtailed, heat only beyond this share
    "heat_pump_w": 450,  # electric power of the compressor
    "heat_pump_cop": 3.0,  # heat delivered per electric W
    "element_w": 4500,
    "standby_w": 35,  # standby heat loss
    "load_up_extra_wh": 2000,  # stored above a full tank during a Basic Load Up
    "alu_max_wh": 3000,  # most an Advanced Load Up may add
    "draws_per_hour": 0.0,  # seeded random hot-water draws of 200-1500 Wh (0 = none)
    "keep": 2000,  # entries kept in received and outcomes
}


class _Request:
    """One frame the SGD sends (a request of its own or an application reply), tracked
    until the UCM's link ACK, with retries."""

    def __init__(self, kind, frame, expect=None, discovery=False, reply=False):
        self.kind = kind
        self.reply = reply  # an application reply of ours (App ACK/NAK, 0x13, 0x19, 08 02)
        self.frame = frame
        self.expect = expect  # None, "app_ack", "max_payload" or "utc": what follows the ACK
        self.discovery = discovery
        self.attempts = 0
        self.first_ms = None
        self.sent_ms = None
        self.ack_ms = None
        self.not_before = 0
        self.deadline = None


def _intermediate_frame(payload):
    return build(MT_INTERMEDIATE, payload)
