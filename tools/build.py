#!/usr/bin/env python3
# Build steps shared by `make sim`, `make deploy` and `make size`: the web page gzipped
# for the wire (firmware/www/index.html -> build/www/index.html.gz, reproducible: no
# name or time in the gzip header).
#   python tools/build.py            writes build/www/index.html.gz and prints its size

import gzip
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE_SRC = os.path.join(ROOT, "firmware", "www", "index.html")
PAGE_LIMIT = 16 * 1024  # bytes on the wire (gzipped), issue budget for the page


def page_gz(src=PAGE_SRC):
    """The page's gzip bytes (level 9, mtime 0, no file name)."""
    with open(src, "rb") as f:
        data = f.read()
    return gzip.compress(data, compresslevel=9, mtime=0)


def page(out_dir=None):
    """Write <out_dir>/www/index.html.gz (default build/) when it is missing or older
    than the source; return its path."""
    out_dir = out_dir or os.path.join(ROOT, "build")
    dest = os.path.join(out_dir, "www", "index.html.gz")
    if not os.path.exists(dest) or os.path.getmtime(dest) < os.path.getmtime(PAGE_SRC):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = dest + ".tmp"
        with open(tmp, "wb") as f:
            f.write(page_gz())
        os.replace(tmp, dest)
    return dest


def main():
    path = page()
    n = os.path.getsize(path)
    print("%s: %d B gzipped (limit %d B)" % (os.path.relpath(path, ROOT), n, PAGE_LIMIT))
    return 0 if n <= PAGE_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
