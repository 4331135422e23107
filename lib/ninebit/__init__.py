# The 9-bit start-of-frame bus that some A.O. Smith-family heaters (the Reliance DHPST)
# carry on the CTA-2045 socket: 19200 baud, 11-bit characters (start, 8 data, a 9th bit
# that is 1 on a frame's first byte, stop), frames ending in an 8-bit additive checksum.
# What is known is passive: the meaning of frames and words is mostly hypothesis.
#   ninebit.frame    checksum, length rules, encoder, description
#   ninebit.reader   streaming reader: with the 9th bit, or without it (resync by
#                    header, length and checksum)
#   ninebit.capture  Linux PARMRK capture stream <-> symbols
#   ninebit.params   the parameter table: latest value of every word, change log
# A symbol is an int: the byte, plus FLAG (0x100) when its 9th bit was 1.

FLAG = 0x100
