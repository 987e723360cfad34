"""Frame lists: where each frame of a pack lies and what it holds.

A frame list is the msgpack list ``[[offset, length, kind, depth, [[chunk hash(32), size],
...]], ...]``; every index file (:mod:`flowpack.cas.index`) carries one per pack, and packs
(:mod:`flowpack.cas.pack`) hand theirs to the index as they are sealed.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowpack.cas.digest import Digest


@dataclass(frozen=True)
class FrameEntry:
    """A frame as the index records it: where it is and what it holds."""

    offset: int
    length: int
    kind: int
    depth: int
    records: tuple[Digest, ...]
