"""Printing file names that are not UTF-8.

Such a name reaches Python with surrogate escapes (os.fsdecode: b"caf\\xe9.txt" is "caf\\udce9.txt").
Where stdout's error handler is "strict" (a UTF-8 locale other than C.UTF-8, PYTHONIOENCODING), printing
it raises UnicodeEncodeError, and the run would end with a traceback for a name. Our doit commands
print such a byte as `\\xe9`, as Python's repr of the bytes does, and any other character the
terminal's encoding lacks as a `\\u` escape. Streams that already take them (surrogateescape writes
the original bytes back) are left as they are.
"""

from __future__ import annotations

import codecs
import io
import sys

ERRORS = "doit-scout-escape"


def _escape(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    escaped = []
    for char in err.object[err.start:err.end]:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a name, as surrogateescape carried it
            escaped.append(f"\\x{code - 0xDC00:02x}")
        else:
            escaped.append(char.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(escaped), err.end


codecs.register_error(ERRORS, _escape)


def make_output_safe() -> None:
    """stdout and stderr print names that are not UTF-8 rather than raise."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors=ERRORS)
