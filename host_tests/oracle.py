# Loads the PyPI `cta2045` package (the peer codec, "PCTA" in the protocol reference (lib/cta2045/PROTOCOL.md)) under a
# separate namespace, for use as a test oracle and benchmark baseline. Our own codec in
# lib/cta2045 has the same top-level name, so the PyPI copy is imported with our lib
# directory hidden from sys.path and then removed from sys.modules again; our `cta2045`
# keeps working whether it was imported before or after load(). PCTA's functions keep
# working afterwards because their module globals were bound at import time.
#
#     import oracle
#     pcta = oracle.load()
#     pcta.app.shed(pcta.codec.Duration.from_byte(0x11)).to_bytes()
#
# Importing this module also puts lib/ at the front of sys.path so that `import cta2045`
# resolves to our codec.

import importlib
import os
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
PKG = "cta2045"
SUBMODULES = ("codec", "enums", "app")

_cache = None


def _real(p):
    return os.path.realpath(p or os.getcwd())


def _is_ours(path_entry):
    """True if importing `cta2045` from this sys.path entry would give our lib copy."""
    return _real(os.path.join(path_entry or ".", PKG)) == _real(os.path.join(LIB, PKG))


def ensure_ours_on_path():
    """Put lib/ first on sys.path, so `import cta2045` finds our codec."""
    if not sys.path or _real(sys.path[0]) != _real(LIB):
        sys.path.insert(0, LIB)


def _is_our_module(mod):
    f = getattr(mod, "__file__", None)
    return bool(f) and _real(f).startswith(_real(os.path.join(LIB, PKG)) + os.sep)


def _pkg_entries():
    return {k: v for k, v in sys.modules.items() if k == PKG or k.startswith(PKG + ".")}


def load():
    """The PyPI codec as a namespace: .pkg (top-level package), .codec, .enums, .app,
    .version and .path. Loaded once; later calls return the same object."""
    global _cache
    if _cache is not None:
        return _cache
    saved = _pkg_entries()
    saved_path = list(sys.path)
    for k in saved:
        del sys.modules[k]
    loaded = {}
    try:
        sys.path[:] = [p for p in saved_path if not _is_ours(p)]
        importlib.invalidate_caches()
        pkg = importlib.import_module(PKG)
        if _is_our_module(pkg):
            raise ImportError("could not hide lib/cta2045 while importing the PyPI package")
        for name in SUBMODULES:
            importlib.import_module(PKG + "." + name)
        loaded = _pkg_entries()
    finally:
        # Drop whatever the PyPI import put in sys.modules, then put back what was there.
        for k in _pkg_entries():
            del sys.modules[k]
        sys.path[:] = saved_path
        # Modules of the PyPI package that someone had imported as `cta2045` directly are
        # not restored: `cta2045` must name our codec.
        for k, v in saved.items():
            if _is_our_module(v):
                sys.modules[k] = v
        importlib.invalidate_caches()
    ns = types.SimpleNamespace(
        pkg=loaded[PKG],
        codec=loaded[PKG + ".codec"],
        enums=loaded[PKG + ".enums"],
        app=loaded[PKG + ".app"],
        version=getattr(loaded[PKG], "__version__", None),
        path=os.path.dirname(loaded[PKG].__file__),
    )
    _cache = ns
    return ns


ensure_ours_on_path()
