# The parameter table of the 9-bit bus: the latest value of every (frame kind, block,
# word index) seen, when it last changed, and a log of changes, so that a setting
# changed on the heater's panel shows which word moved. 0x40 frames give one entry per
# 16-bit word (big-endian), keyed by block byte[1]; other frames one entry (kind = first
# byte, block 0, index 0) holding byte[1]. Times are whatever the caller passes (ms
# ticks on a board, seconds on a PC). Bounded: at most max_keys entries and log_size
# changes are kept.

from ninebit.frame import BLOCK, words


def temp_c(v):
    """HYPOTHESIS: a word as a temperature, value/512 degrees C (7.9 fixed point)."""
    return v / 512


class ParamTable:
    def __init__(self, max_keys=256, log_size=200):
        self.max_keys = max_keys
        self.log_size = log_size
        self.values = {}  # key -> [value, changed_at, seen_at]
        self.log = []  # (time, key, old, new), oldest first
        self.dropped = 0  # words not kept: the table was full

    @staticmethod
    def key(kind, block, index):
        return (kind << 16) | (block << 8) | index

    def update(self, frame, now):
        """Take a checksum-valid frame; returns how many values changed."""
        if frame[0] == BLOCK:
            ws = words(frame)
            kb = (BLOCK << 16) | (frame[1] << 8)
        else:
            ws = (frame[1] if len(frame) > 2 else 0,)
            kb = frame[0] << 16
        changed = 0
        for i in range(len(ws)):
            k = kb | i
            v = ws[i]
            e = self.values.get(k)
            if e is None:
                if len(self.values) >= self.max_keys:
                    self.dropped += 1
                    continue
                self.values[k] = [v, now, now]
            elif e[0] != v:
                if len(self.log) >= self.log_size:
                    self.log.pop(0)
                self.log.append((now, k, e[0], v))
                e[0] = v
                e[1] = now
                e[2] = now
                changed += 1
            else:
                e[2] = now
        return changed

    def rows(self, since=None):
        """Every entry (or those changed after since), sorted by kind, block, index."""
        out = []
        for k in sorted(self.values):
            v, changed, seen = self.values[k]
            if since is not None and not changed > since:
                continue
            out.append(_row(k, v, changed, seen))
        return out

    def changes(self, since=None):
        """The change log (after since), oldest first."""
        out = []
        for t, k, old, new in self.log:
            if since is None or t > since:
                d = _row(k, new, t, None)
                d["old"] = old
                out.append(d)
        return out


def _row(k, v, changed, seen):
    kind = k >> 16
    d = {
        "kind": "0x%02x" % kind,
        "block": (k >> 8) & 0xFF,
        "index": k & 0xFF,
        "raw": "%04x" % v if kind == BLOCK else "%02x" % v,
        "u16": v,
        "changed_at": changed,
    }
    if seen is not None:
        d["seen_at"] = seen
    if kind == BLOCK:
        d["temp_c_hypothesis"] = temp_c(v)
    return d
