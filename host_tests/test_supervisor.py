# firmware/ucm_supervisor.py on a fake clock: the watchdog is fed only while every watched
# task moves; a stalled task is restarted once and counts as stalled until it moves at
# two checks in a row; a task that raises or returns is restarted and counted; a fatal
# task's exception ends run().
import asyncio

import pytest

import devboard  # noqa: F401  (firmware/ on the path)
import ucm_supervisor as supervisor


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def make():
    clock = Clock()
    logs = []
    sup = supervisor.Supervisor(logs.append, clock, restart_ms=10, stall_ms=5000, period_ms=1000)
    return sup, clock, logs


async def forever():
    await asyncio.Event().wait()


def test_stall_restart_once_and_feeding_rules():
    async def go():
        sup, clock, logs = make()
        n = {"a": 0, "b": 0}
        sup.add("a", forever, lambda: n["a"])
        sup.add("b", forever, lambda: n["b"])
        sup.add("idle", forever)  # no progress counter: only has to keep running
        sup.start()
        first = sup.tasks["a"]["task"]
        for _ in range(10):  # both move: never stalled
            clock.t += 1000
            n["a"] += 1
            n["b"] += 1
            assert sup.check() == []
        for _ in range(5):  # a stops; b moves; within stall_ms: still fine
            clock.t += 1000
            n["b"] += 1
            assert sup.check() == []
        clock.t += 1000
        n["b"] += 1
        assert sup.check() == ["a"]  # > 5000 ms without a move: restarted once
        await asyncio.sleep(0)
        assert first.cancelled() and sup.tasks["a"]["task"] is not first
        assert sup.status()["a"]["restarts"] == 1 and "no progress for 6000 ms" in logs[-1]
        for _ in range(20):  # still stuck: stalled at every check, no second restart
            clock.t += 1000
            n["b"] += 1
            assert sup.check() == ["a"]
        assert sup.status()["a"]["restarts"] == 1
        for moves, want in ((1, ["a"]), (0, ["a"]), (1, ["a"]), (1, [])):
            # one move is not enough: it must move at two checks in a row
            n["a"] += moves
            n["b"] += 1
            clock.t += 1000
            assert sup.check() == want
        assert sup.status()["idle"] == {"restarts": 0, "last_error": None, "stalled": False}

    asyncio.run(go())


def test_run_feeds_only_without_stalls():
    class Wdt:
        feeds = 0

        def feed(self):
            self.feeds += 1

    async def go():
        sup, clock, logs = make()
        sup.period_ms = 1
        n = [0]
        sup.add("a", forever, lambda: n[0])
        wdt = Wdt()
        runner = asyncio.create_task(sup.run(wdt))
        for _ in range(5):
            n[0] += 1
            clock.t += 100
            await asyncio.sleep(0.01)
        assert wdt.feeds >= 3
        clock.t += 10000  # no move for 10 s
        await asyncio.sleep(0.02)
        fed = wdt.feeds
        await asyncio.sleep(0.05)
        assert wdt.feeds == fed and sup.stalled == ["a"]
        runner.cancel()

    asyncio.run(go())


def test_crashing_and_returning_tasks_are_restarted_and_counted():
    async def go():
        sup, clock, logs = make()
        calls = {"crash": 0, "ret": 0}

        async def crash():
            calls["crash"] += 1
            raise OSError(5, "EIO")

        async def ret():
            calls["ret"] += 1

        sup.add("crash", crash)
        sup.add("ret", ret)
        sup.start()
        await asyncio.sleep(0.2)
        st = sup.status()
        assert st["crash"]["restarts"] >= 2 and st["crash"]["last_error"] == "OSError: [Errno 5] EIO"
        assert st["ret"]["restarts"] >= 2 and st["ret"]["last_error"] == "returned"
        assert calls["crash"] == st["crash"]["restarts"]
        assert any("task crash ended (OSError" in m for m in logs)
        for r in sup.tasks.values():
            r["task"].cancel()

    asyncio.run(go())


def test_a_fatal_task_ends_run():
    async def go():
        sup, clock, logs = make()
        sup.period_ms = 1

        async def bind():
            raise OSError(98, "address already in use")

        sup.add("http", bind, fatal=True)
        with pytest.raises(OSError, match="address already in use"):
            await sup.run()

    asyncio.run(go())


def test_a_task_parked_on_io_counts_as_moving():
    # progress() -> None: waiting legitimately (the RS-485 reader on a quiet line)
    async def go():
        sup, clock, logs = make()
        state = {"v": None}
        sup.add("reader", forever, lambda: state["v"])
        sup.start()
        for _ in range(20):
            clock.t += 1000
            assert sup.check() == []
        state["v"] = 7  # working, then stuck on something else than its wait
        for _ in range(6):  # moved at the first check; 5 s later still within stall_ms
            clock.t += 1000
            assert sup.check() == []
        clock.t += 1000
        assert sup.check() == ["reader"] and sup.status()["reader"]["restarts"] == 1
        for r in sup.tasks.values():
            r["task"].cancel()

    asyncio.run(go())
