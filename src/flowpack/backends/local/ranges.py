"""Reading a range of a blob file with as few system calls as possible: open, pread, close (a
frame read through a buffered file also costs a stat, a terminal check and a seek)."""

from __future__ import annotations

import os
from pathlib import Path

PREAD = hasattr(os, "pread")
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def read_range(path: Path, offset: int, length: int) -> bytes:
    """``length`` bytes of the regular file ``path`` from ``offset`` (fewer at its end)."""
    fd = os.open(path, os.O_RDONLY | O_CLOEXEC)
    try:
        data = os.pread(fd, length, offset)
        if len(data) == length or not data:
            return data
        parts = [data]
        got = len(data)
        while got < length:
            more = os.pread(fd, length - got, offset + got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)
    finally:
        os.close(fd)
