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
bounds their tree, not the cache): its session keeps one spill across frames, which also keeps
frames no plan needs any more when they are evicted, since the next frame's bases are mostly
the same old frames; so a push decodes each old frame once.

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


class FrameSpill:
    """An append-only file of decoded records (chunks) by digest: only those of
    :attr:`wanted`, the records the plans that use it will read (a frame often holds many
    that none needs).  Not thread-safe: the reader calls it with its lock held."""

    def __init__(self, directory: Path, *, owns_directory: bool = False) -> None:
        import tempfile  # only a restore spills: read-only commands start without it

        self._directory = directory if owns_directory else None
        fd, name = tempfile.mkstemp(prefix=SPILL_PREFIX, dir=directory)
        self.path = Path(name)
        self._fh = os.fdopen(fd, "w+b")
        self._end = 0
        self._where: dict[bytes, tuple[int, int]] = {}
        #: Digests (raw) of the records worth keeping: what the plans will read.
        self.wanted: set[bytes] = set()
        self.written = 0

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._where

    def put(self, records: dict[bytes, bytes]) -> None:
        """Keep those of the decoded ``records`` (raw digest -> bytes) that are wanted and not
        kept yet."""
        if self._fh.closed:
            return
        for digest, data in records.items():
            if digest in self.wanted and digest not in self._where:
                self._fh.seek(self._end)
                self._fh.write(data)
                self._where[digest] = (self._end, len(data))
                self._end += len(data)
                self.written += len(data)

    def get(self, digest: bytes) -> bytes | None:
        """The record ``digest`` as kept, verified again; None if it was not kept or its copy
        is damaged (then it is forgotten: decode it from the store)."""
        entry = self._where.get(digest)
        if entry is None or self._fh.closed:
            return None
        offset, n = entry
        self._fh.seek(offset)
        data = self._fh.read(n)
        if len(data) != n or blake3.blake3(data).digest() != digest:
            del self._where[digest]
            return None
        return data

    @classmethod
    def temporary(cls) -> FrameSpill:
        """A spill in a private folder of its own in the system's temporary directory (for a
        write session), removed with it by :meth:`close`."""
        import tempfile

        return cls(Path(tempfile.mkdtemp(prefix=SPILL_PREFIX)), owns_directory=True)

    def close(self) -> None:
        """Remove the file (and the folder, if the spill made it)."""
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)
        self._where.clear()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


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
