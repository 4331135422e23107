# A day and a few hours of protocol on the fake clock (long_run.py): the engine keeps
# answering through bursts, commands, polls and silences, and where the runtime tells
# the heap in use (MicroPython), it stays flat after the first day. The whole week, in
# a small heap under the unix port, is host_tests/test_week_unix.py.

import long_run


def test_a_day_and_more_of_protocol_holds_a_flat_heap():
    samples, b, results = long_run.run(30)
    long_run.check(samples, b, results, warmup=24)
    assert results["timeout"] == results["no_ack"] == 0, results  # commands sent while the SGD listens
