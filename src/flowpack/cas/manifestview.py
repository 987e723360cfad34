"""Reading single files out of an encoded manifest, without decoding the others.

A new version's bases (:mod:`flowpack.cas.bases`) need the previous version's entry for each
changed path: a few lookups in a manifest that may list 100,000 files.  A
:class:`ManifestView` finds where each entry of the ``files`` array starts (one pass that
skips over them), then finds a path by bisection, decoding about 17 entries per lookup: the
view costs the manifest's bytes and four bytes per file, where a decoded manifest costs several
objects per file.  Bytes come verified from the store; a view checks no more than it reads
(:func:`flowpack.cas.manifest.decode_manifest` is the full check), and reports what does not
decode as :class:`MalformedData`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

import msgpack

from flowpack.cas.errors import FlowpackError, MalformedData
from flowpack.cas.manifest import MAX_ENTRIES, FileEntry, decode_file


class ManifestView:
    """The files of one encoded manifest, looked up by path."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        try:
            up = msgpack.Unpacker(raw=False, max_buffer_size=max(len(data), 1))
            up.feed(data)
            up.read_map_header()
            if up.unpack() != "files":  # the canonical encoding lists files first
                raise MalformedData("manifest does not start with its files")
            n = up.read_array_header()
            if n > MAX_ENTRIES:
                raise MalformedData(f"manifest lists {n} files")
            offsets = array("I", [up.tell()])
            for _ in range(n):
                up.skip()
                offsets.append(up.tell())
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise MalformedData(f"manifest does not decode: {exc}") from exc
        self._offsets = offsets
        self._ids = range(n)

    def __len__(self) -> int:
        return len(self._ids)

    def _item(self, i: int) -> Any:
        return msgpack.unpackb(self._data[self._offsets[i] : self._offsets[i + 1]], raw=False)

    def _path(self, i: int) -> str:
        return str(self._item(i)[0])

    def get(self, path: str) -> FileEntry | None:
        """The entry at ``path``, or None; :class:`MalformedData` if what it reads is bad."""
        try:
            i = bisect_left(self._ids, path, key=self._path)
            if i < len(self._ids) and self._path(i) == path:
                return decode_file(self._item(i))
        except (ValueError, TypeError, IndexError, msgpack.UnpackException) as exc:
            raise MalformedData(f"manifest entry does not decode: {exc}") from exc
        except FlowpackError as exc:
            raise MalformedData(str(exc)) from exc
        return None

    def paths(self) -> Iterator[str]:
        """Every path, in order."""
        try:
            for i in self._ids:
                yield self._path(i)
        except (ValueError, TypeError, IndexError, msgpack.UnpackException) as exc:
            raise MalformedData(f"manifest entry does not decode: {exc}") from exc
