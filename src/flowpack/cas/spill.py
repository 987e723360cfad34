"""Decoded frames a planned read still needs, kept on local disk instead of in memory.

A restore reads the frames its files live in, and each of those is decoded against base frames
that are often the frames of the same restore's other files: one base tree, wide and deep,
shared across the whole read.  Held in memory, that tree is many times the memory budget; let
go, it is decoded again for every frame that needs it (on a corpus of 20 releases of large JSON
files, 8,400 frame decodes for the 438 frames one release needs).  So the reader, when its cache
is full and must evict a frame that a planned read still needs
(:meth:`flowpack.cas.reader.ChunkReader.plan`), writes the frame's records here and reads them
back when they are needed: every frame of the tree is decoded once, and memory stays within the
budget.

The file is private to the process (created in a directory the caller owns, such as a restore's
staging directory, with ``O_EXCL`` and mode 0600, and removed by :meth:`FrameSpill.close`).
Every record read back is hashed again against its digest; one that does not match is not
returned, the entry is forgotten and the frame is decoded from the store again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import blake3

SPILL_PREFIX = "spill-"
#: A frame's key (pack hex, frame offset), as the reader's caches use it.
FrameKey = tuple[str, int]


class FrameSpill:
    """An append-only file of decoded frames, by frame key.  Not thread-safe: the reader calls
    it with its lock held."""

    def __init__(self, directory: Path) -> None:
        import tempfile  # only a restore spills: read-only commands start without it

        fd, name = tempfile.mkstemp(prefix=SPILL_PREFIX, dir=directory)
        self.path = Path(name)
        self._fh = os.fdopen(fd, "w+b")
        self._end = 0
        self._where: dict[FrameKey, tuple[int, tuple[tuple[bytes, int], ...]]] = {}
        self.written = 0

    def __contains__(self, key: FrameKey) -> bool:
        return key in self._where

    def put(self, key: FrameKey, records: dict[bytes, bytes]) -> None:
        """Keep the decoded ``records`` of frame ``key`` (once: a frame kept stays kept)."""
        if key in self._where or self._fh.closed:
            return
        self._fh.seek(self._end)
        layout = []
        for digest, data in records.items():
            self._fh.write(data)
            layout.append((digest, len(data)))
        self._where[key] = (self._end, tuple(layout))
        size = sum(n for _, n in layout)
        self._end += size
        self.written += size

    def get(self, key: FrameKey) -> dict[bytes, bytes] | None:
        """The records of frame ``key`` as kept, each verified again; None if the frame was not
        kept or its copy is damaged (then it is forgotten: decode it from the store)."""
        entry = self._where.get(key)
        if entry is None or self._fh.closed:
            return None
        offset, layout = entry
        self._fh.seek(offset)
        data = self._fh.read(sum(n for _, n in layout))
        out: dict[bytes, bytes] = {}
        view = memoryview(data)
        at = 0
        for digest, n in layout:
            piece = view[at : at + n]
            at += n
            if blake3.blake3(piece).digest() != digest:
                del self._where[key]
                return None
            out[digest] = bytes(piece)
        return out

    def close(self) -> None:
        """Remove the file."""
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)
        self._where.clear()


@contextmanager
def spill_folder() -> Iterator[Path]:
    """A private folder (mode 0700) in the system's temporary directory for a read that has
    no folder of its own (copy, export), removed at the end."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="flowpack-spill-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
