#!/usr/bin/env python3
# Build steps shared by `make sim`, `make deploy` and `make size`: the web page gzipped
# for the wire (firmware/www/index.html -> build/www/index.html.gz, reproducible: no
# name or time in the gzip header), and the set-up page beside it as it is
# (firmware/www/setup.html -> build/www/setup.html).
#   python tools/build.py            writes build/www/ and prints the page's size

import gzip
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE_SRC = os.path.join(ROOT, "firmware", "www", "index.html")
SETUP_SRC = os.path.join(ROOT, "firmware", "www", "setup.html")
PAGE_LIMIT = 16 * 1024  # bytes on the wire (gzipped), issue budget for the page


def page_gz(src=PAGE_SRC):
    """The page's gzip bytes (level 9, mtime 0, no file name)."""
    with open(src, "rb") as f:
        data = f.read()
    return gzip.compress(data, compresslevel=9, mtime=0)


def page(out_dir=None):
    """Write <out_dir>/www/index.html.gz and setup.html (default build/) when missing
    or older than their sources; return the page's path."""
    out_dir = out_dir or os.path.join(ROOT, "build")
    dest = os.path.join(out_dir, "www", "index.html.gz")
    for path, src, data in ((dest, PAGE_SRC, page_gz), (setup_path(out_dir), SETUP_SRC, None)):
        if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(src):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if data is None:
                with open(src, "rb") as f:
                    content = f.read()
            else:
                content = data()
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(content)
            os.replace(tmp, path)
    return dest


def setup_path(out_dir=None):
    """Where page() writes the set-up page."""
    return os.path.join(out_dir or os.path.join(ROOT, "build"), "www", "setup.html")


def main():
    path = page()
    n = os.path.getsize(path)
    print("%s: %d B gzipped (limit %d B)" % (os.path.relpath(path, ROOT), n, PAGE_LIMIT))
    return 0 if n <= PAGE_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
