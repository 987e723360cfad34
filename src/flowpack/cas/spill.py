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

A writer does the same for the bases of each new frame (:func:`flowpack.cas.budget.base_work`
bounds their tree, not the cache): its session keeps one spill across frames, which keeps what
the plans so far read when a frame is evicted, since the next frame's bases are mostly the
same old frames; no old frame is decoded twice for one new frame.  Only the records a plan
reads are kept (a frame of many files holds many that no plan needs).

The file is private to the process: created on the first record kept (a read that never
overflows the cache writes nothing), with ``O_EXCL`` and mode 0600, in a directory the caller
owns (a restore's staging directory) or in a private folder of its own in the system's
temporary directory (copy, export, verify, a push), and removed by :meth:`FrameSpill.close`.
Every record read back is hashed again against its digest; one that does not match is not
returned, the entry is forgotten and the frame is decoded from the store again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import blake3

SPILL_PREFIX = "spill-"
#: The private folder a spill without a folder of its own makes in the temporary directory.
FOLDER_PREFIX = "flowpack-spill-"


class FrameSpill:
    """An append-only file of decoded records (chunks) by digest: only those of
    :attr:`wanted`, the records the plans that use it will read (a frame often holds many
    that none needs).  Nothing is created until a record is kept: a read that never spills
    writes nothing.  Not thread-safe: the reader calls it with its lock held."""

    def __init__(self, directory: Path | None = None) -> None:
        """A spill in ``directory``, or (None) in a private folder of its own made in the
        system's temporary directory and removed by :meth:`close`."""
        self._parent = directory
        self._made: Path | None = None  # the private folder, once made
        self.path: Path | None = None
        self._fh: IO[bytes] | None = None
        self._closed = False
        self._end = 0
        self._where: dict[bytes, tuple[int, int]] = {}
        #: Digests (raw) of the records worth keeping: what the plans will read.
        self.wanted: set[bytes] = set()
        self.written = 0

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._where

    def __enter__(self) -> FrameSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, records: dict[bytes, bytes]) -> None:
        """Keep those of the decoded ``records`` (raw digest -> bytes) that are wanted and not
        kept yet."""
        for digest, data in records.items():
            if digest in self.wanted and digest not in self._where:
                fh = self._file()
                if fh is None:
                    return
                fh.seek(self._end)
                fh.write(data)
                self._where[digest] = (self._end, len(data))
                self._end += len(data)
                self.written += len(data)

    def get(self, digest: bytes) -> bytes | None:
        """The record ``digest`` as kept, verified again; None if it was not kept or its copy
        is damaged (then it is forgotten: decode it from the store)."""
        entry = self._where.get(digest)
        if entry is None or self._fh is None:
            return None
        offset, n = entry
        self._fh.seek(offset)
        data = self._fh.read(n)
        if len(data) != n or blake3.blake3(data).digest() != digest:
            del self._where[digest]
            return None
        return data

    def _file(self) -> IO[bytes] | None:
        """The spill file, created on first use (None once closed)."""
        if self._closed:
            return None
        if self._fh is None:
            import tempfile  # only a read that spills needs it

            folder = self._parent
            if folder is None:
                self._made = folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
            fd, name = tempfile.mkstemp(prefix=SPILL_PREFIX, dir=folder)
            self.path = Path(name)
            self._fh = os.fdopen(fd, "w+b")
        return self._fh

    def close(self) -> None:
        """Remove the file (and the folder, if the spill made it)."""
        self._closed = True
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self._where.clear()
        if self._made is not None:
            import shutil

            shutil.rmtree(self._made, ignore_errors=True)
