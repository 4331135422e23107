# PC stand-in for MicroPython's uctypes, for host tests only (never deployed): the
# address of a state machine is its RX FIFO register; of anything else, a fixed RAM
# address (rp2.RAM).
import rp2


def addressof(obj):
    if isinstance(obj, rp2.StateMachine):
        return rp2.FIFO + 4 * (obj.id & 3)
    return rp2.RAM
