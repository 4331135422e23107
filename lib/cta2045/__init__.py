# cta2045: a size-trimmed CTA-2045 codec shared by the firmware and the PC tools.
# Pure code: no I/O, no hardware, no global state. Runs on MicroPython >= 1.22 and
# CPython >= 3.10. Submodules:
#   frame    checksum, frames, link ACK/NAK, the streaming FrameReader
#   basic    Basic DR value encodings (duration, price, power level, time sync)
#   message  decode any frame to a Message, encode any message kind by name
#   names    human-readable names for codes (loaded only by Message.to_dict)

# Versioned with the project: ucm.__version__ (lib/ucm/__init__.py)


class CodecError(ValueError):
    """The one error the codec raises for structurally bad input."""
