# The device application: composes a board (its byte port, clock and options), the UCM
# engine and the HTTP API, and runs them on one asyncio loop. On a PC it runs as
#   python firmware/main.py --serial PATH ...   (the host board; see boards/host/board.py)
# with lib/, firmware/ and boards/host on the module path (tools/sim.py sets that up).

import asyncio
import sys


def trace_line(d, data, now, note):
    """One line per frame on the wire: seconds since start, direction, hex, what it is."""
    from cta2045.message import hexstr
    from ucm.trace import describe

    arrow = "UCM->SGD" if d == "tx" else "SGD->UCM"
    print("%10.3f %s %-24s %s" % (now / 1000, arrow, hexstr(data), note or describe(data)))


async def start(board, o, settings, log=print):
    from ucm.runner import Ucm

    import api

    ucm = Ucm(board.open_port(o), settings, board.unix_time, None if o["quiet"] else trace_line)
    app = api.make_app(ucm, o["token"], log=log, page_file=o.get("page"))
    engine = asyncio.create_task(ucm.run())
    log("ucm: HTTP API on http://%s:%d/" % (o["http_host"], o["http_port"]))
    await api.serve(app, o["http_host"], o["http_port"])
    await engine


def main(board=None, argv=None):
    if board is None:
        import board
    from ucm.settings import Settings

    try:
        o = board.options(argv)
        settings = Settings(**o["settings"])
    except ValueError as e:
        print("ucm: %s" % e)
        sys.exit(2)
    try:
        asyncio.run(start(board, o, settings))
    except KeyboardInterrupt:
        pass
    except OSError as e:  # e.g. the serial path or the HTTP port cannot be opened
        print("ucm: %s" % e)
        sys.exit(1)


if __name__ == "__main__":
    main()
