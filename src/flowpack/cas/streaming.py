"""Reading a file of a bundle as a stream of verified chunks, in bounded memory.

Chunks are prefetched in windows of the memory budget's ``read_ahead`` (coalesced ranged reads) and
handed out one at a time, each already re-hashed against its digest by the reader; the whole
file's digest is checked as the stream ends.  Memory holds one window, never the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import blake3

from flowpack.cas.digest import Digest
from flowpack.cas.errors import CorruptObject
from flowpack.cas.manifest import FileEntry
from flowpack.cas.memory import process_budget


def iter_chunks(
    chunks: tuple[Digest, ...],
    prefetch: Callable[[Iterable[Digest]], None],
    get: Callable[[Digest], bytes],
) -> Iterator[bytes]:
    """The verified bytes of ``chunks`` in order, prefetching a window at a time."""
    window, ahead = 0, process_budget().read_ahead
    for k, c in enumerate(chunks):
        if k >= window:
            end, size = k, 0
            while end < len(chunks) and (size < ahead or end == k):
                size += chunks[end].size
                end += 1
            prefetch(chunks[k:end])
            window = end
        yield get(c)


def iter_file(
    entry: FileEntry,
    prefetch: Callable[[Iterable[Digest]], None],
    get: Callable[[Digest], bytes],
) -> Iterator[bytes]:
    """The bytes of ``entry``, chunk by chunk; :class:`CorruptObject` (after the last chunk)
    if they do not hash to the file's digest."""
    whole = blake3.blake3()
    size = 0
    for piece in iter_chunks(entry.chunks, prefetch, get):
        whole.update(piece)
        size += len(piece)
        yield piece
    if size != entry.digest.size or whole.digest() != entry.digest.raw:
        raise CorruptObject(
            f"file {entry.path} does not match its digest {entry.digest}", entry.digest
        )
