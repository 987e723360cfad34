"""The files cache: an unchanged file costs a stat, not a read.

As git's index and borg's files cache do, a push remembers, for each file it read from disk
(by absolute path), the file's ``(size, mtime_ns, inode, ctime_ns)`` and the chunks it was cut
into.  The next push of the same path finds the same stat and reuses the chunks without opening
the file, provided every chunk is still held by the store (gc may have removed them since:
then the file is read).

Safety (the "racy git" rule): a file modified within the same second as the cache was written
could change again without its mtime moving, so entries whose mtime or ctime is not older than
one second before the write are not saved; such files are read again next time.  ctime and the
inode catch a file replaced by another with the same size and mtime (``touch -r``, ``mv``).

The cache lives in the store's folder of the local cache (``files.msgpack``), one per store
(chunk digests mean nothing elsewhere).  It is a hint: a damaged or unreadable file is ignored,
and writes are atomic (temporary file, then rename); two pushes at once keep the last one's.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import msgpack

from flowpack.cas.digest import Digest
from flowpack.cas.manifest import FileEntry

#: Entries kept at most (the files of this push first, then earlier ones).
MAX_ENTRIES = 200_000
_STAT = struct.Struct("<qqqq")  # size, mtime_ns, inode, ctime_ns
_REC = struct.Struct("<32sQ")
_VERSION = 1


def stat_key(st: os.stat_result) -> bytes:
    return _STAT.pack(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


class FilesCache:
    """One push's view of the files cache.  Not thread-safe (one per push)."""

    def __init__(self, root: Path | None) -> None:
        self.path = root / "files.msgpack" if root is not None else None
        self._old: dict[str, bytes] = self._load()
        self._new: dict[str, bytes] = {}

    def _load(self) -> dict[str, bytes]:
        if self.path is None:
            return {}
        try:
            data = msgpack.unpackb(self.path.read_bytes(), raw=False)
            if data.get("v") != _VERSION or not isinstance(data.get("files"), dict):
                return {}
            return {str(k): bytes(v) for k, v in data["files"].items()}
        except (OSError, ValueError, TypeError, AttributeError, msgpack.ExtraData):
            return {}

    def get(self, source: str, st: os.stat_result, path: str, mode: int) -> FileEntry | None:
        """The entry for ``source`` if its stat matches what was cached, else None."""
        value = self._old.get(source)
        if value is None or value[: _STAT.size] != stat_key(st):
            return None
        try:
            whole = Digest.from_raw(*_REC.unpack_from(value, _STAT.size))
            chunks = tuple(
                Digest.from_raw(*_REC.unpack_from(value, off))
                for off in range(_STAT.size + _REC.size, len(value), _REC.size)
            )
            entry = FileEntry(path, mode, whole.size, whole, chunks)
        except (ValueError, struct.error):
            return None
        self._new[source] = value
        return entry

    def put(self, source: str, st: os.stat_result, entry: FileEntry) -> None:
        """Remember ``entry`` as what ``source`` with stat ``st`` holds."""
        parts = [stat_key(st), _REC.pack(entry.digest.raw, entry.digest.size)]
        parts += [_REC.pack(c.raw, c.size) for c in entry.chunks]
        self._new[source] = b"".join(parts)

    def save(self) -> None:
        """Write the cache (best effort), leaving out entries too recent to trust."""
        if self.path is None or (not self._new and not self._old):
            return
        racy = (time.time_ns() // 1_000_000_000 - 1) * 1_000_000_000
        keep: dict[str, bytes] = {}
        for src, value in self._new.items():
            _, mtime, _, ctime = _STAT.unpack_from(value)
            if mtime < racy and ctime < racy:
                keep[src] = value
        for src, value in self._old.items():
            if len(keep) >= MAX_ENTRIES:
                break
            keep.setdefault(src, value)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_bytes(msgpack.packb({"v": _VERSION, "files": keep}, use_bin_type=True))
            os.replace(tmp, self.path)
        except OSError:
            pass
