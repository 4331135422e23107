# The device application: composes the firmware (ucm_compose.py) and runs it on one asyncio
# loop under a supervisor that restarts any task that fails and feeds the watchdog only
# while they all work. It never exits on its own.
#   On a board: deployed as ucm_main (make deploy); /main.py calls main().
#   On a PC:    python firmware/main.py --serial PATH ...  (the host board, boards/host;
#               tools/sim.py puts lib/, firmware/ and boards/host on the module path)

import asyncio
import sys

import ucm_heap as heap


async def start(board, config, host="0.0.0.0", quiet=True, log=print, page=None):
    """Compose and run everything; never returns. config: a Config (firmware/ucm_config.py)
    already loaded."""
    heap.start()
    import ucm_compose as compose

    sup, wdt = await compose.build(board, config, host, quiet, log, page)
    del compose
    heap.drop("ucm_compose", "ucm_config_check", "ucm.limits")  # start-up code: off the heap from now on
    free = heap.collect()
    if free is not None:
        log("ucm: started, mem_free %d, mem_alloc %s" % (free, heap.status()["mem_alloc"]))
    await sup.run(wdt)


def main(board=None, argv=None):
    if board is None:
        import ucm_board as board
    try:
        # (no local name for the module: start() drops it from the heap)
        config, host, quiet, page = __import__("ucm_compose").prepare(board, argv)
    except ValueError as e:
        print("ucm: %s" % e)
        sys.exit(2)
    try:
        asyncio.run(start(board, config, host, quiet, page=page))
    except KeyboardInterrupt:
        # Stopped from the REPL (make repl, deploy): a running watchdog cannot be
        # stopped, so a timer feeds it from now on and the session is not cut by a
        # reset. A power cycle or machine.reset() starts the firmware again.
        wdt = getattr(board, "wdt", None)
        if wdt is not None:
            board.feed_forever(wdt)
            print("ucm: stopped; the watchdog is fed by a timer until reset")
    except OSError as e:  # e.g. the serial path cannot be opened
        print("ucm: %s" % e)
        sys.exit(1)


if __name__ == "__main__":
    main()
