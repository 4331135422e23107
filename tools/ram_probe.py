# Runs under MicroPython (tools/ram.py starts it in a unix port, MICROPYPATH set to a
# deploy tree's /lib): the heap each group of modules costs to import, in order, as
# gc.mem_alloc() after a collection. argv[1]: a JSON file [[group, [module, ...]], ...].
# Prints one line "RAM {json}": {"base": bytes in use before, "heap": mem_free + mem_alloc,
# "groups": [[group, bytes], ...], "modules": [[module, bytes], ...],
# "total": bytes in use after, "failed": [[module, why]]}.

import gc
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        groups = json.load(f)
    gc.collect()
    base = prev = gc.mem_alloc()
    out = []
    each = []
    failed = []
    for name, modules in groups:
        start = prev
        for m in modules:
            try:
                __import__(m)
            except Exception as e:  # e.g. a board module that needs hardware
                failed.append([m, "%s: %s" % (type(e).__name__, e)])
            gc.collect()
            a = gc.mem_alloc()
            each.append([m, a - prev])
            prev = a
        out.append([name, prev - start])
    print(
        "RAM "
        + json.dumps(
            {
                "base": base,
                "heap": gc.mem_free() + gc.mem_alloc(),
                "groups": out,
                "modules": each,
                "total": prev,
                "failed": failed,
            }
        )
    )


main()
