# One-line text for a frame on the wire, for the live trace of the firmware and the
# simulator: the message name and its fields, names in brackets, e.g.
# "shed duration=17 duration_s=578", "op_state state=2(running_curtailed)".

from cta2045.message import decode


def describe(frame):
    """Compact description of a frame, link ACK or NAK; never raises."""
    try:
        d = decode(frame).to_dict()
    except Exception as e:  # CodecError, or anything a damaged frame may cause
        return "undecodable (%s)" % e
    f = d["fields"]
    if d["name"] == "link_nak":
        return "link_nak %02x(%s)" % (f["nak"], f.get("nak_name"))
    out = d["name"]
    if d.get("role") in ("get", "set", "reply") and out != "unknown_opcode":
        out += "." + d["role"]
    for k in sorted(f):  # MicroPython's dicts keep no order: the same line on both
        v = f[k]
        if k.endswith("_name") and k[:-5] in f:
            continue
        if k == "records":
            v = ",".join(
                "%d:%s/%s%s" % (r["code"], r["rate"], r["cumulative"], "m" if r["measured"] else "") for r in v
            )
        elif isinstance(v, list):
            v = ",".join(str(x) for x in v)
        elif f.get(k + "_name") is not None:
            v = "%s(%s)" % (v, f[k + "_name"])
        out += " %s=%s" % (k, v)
    if not d["checksum_ok"]:
        out += " BAD-CHECKSUM"
    return out
