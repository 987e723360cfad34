"""Finding a delta parent by content: the stored bundle whose files most resemble a new tree.

A push names no parent when its ref is new (a tag, a pinned build, ``--ref v/<version>``) or
when it names no ref at all; compressing only against a ref's previous value would then store
every such version from scratch.  Instead, each bundle a push stores leaves a *sketch* in the
local cache (one small JSON file per store): its digest and the ``SKETCH`` smallest 64-bit hashes
of its file paths (a bottom-k sample, whose overlap estimates how many paths two trees share).
A push without a parent compares its own sketch with those of the last ``KEEP`` bundles and
takes the one sharing the most paths (the newest on a tie) that the index still holds: git's
delta search likewise ignores names and looks at content.

The sketch file is a hint, never trusted for correctness: a bundle it names that is gone is
skipped, a damaged file is ignored, and two pushes writing it at once lose one sketch at worst.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import blake3

from flowpack.cas.digest import Digest
from flowpack.cas.index import Index

SKETCH = 256
KEEP = 64
#: Least share of sampled paths in common for a bundle to serve as a parent.
MIN_SHARE = 0.2


def sketch(paths: Iterable[str]) -> list[int]:
    """The ``SKETCH`` smallest distinct 64-bit hashes of ``paths`` (sorted), in memory bounded
    by ``SKETCH`` whatever the number of paths (a heap of the smallest seen so far)."""
    import heapq

    kept: list[int] = []  # the negated hashes kept: a max-heap of the smallest
    held: set[int] = set()
    for p in paths:
        h = int.from_bytes(blake3.blake3(p.encode()).digest(8), "little")
        if h in held:
            continue
        if len(kept) < SKETCH:
            heapq.heappush(kept, -h)
            held.add(h)
        elif h < -kept[0]:
            held.discard(-heapq.heapreplace(kept, -h))
            held.add(h)
    return sorted(-x for x in kept)


def share(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of the sets two bottom-k sketches sample."""
    if not a or not b:
        return 0.0
    union = sorted(set(a) | set(b))[:SKETCH]
    common = set(a) & set(b)
    return sum(1 for h in union if h in common) / len(union)


class Sketches:
    """The sketch file of one store's local cache (``root`` None: no cache, nothing kept)."""

    def __init__(self, root: Path | None) -> None:
        self.path = root / "sketches.json" if root is not None else None

    def _load(self) -> list[dict[str, object]]:
        if self.path is None:
            return []
        try:
            data = json.loads(self.path.read_text())
            entries = data["entries"]
            return [e for e in entries if isinstance(e, dict)]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def best(self, paths: Iterable[str], index: Index) -> Digest | None:
        """The stored bundle most like a tree of ``paths``, or None."""
        mine = sketch(paths)
        best: tuple[float, int, Digest] | None = None
        for age, e in enumerate(reversed(self._load())):
            try:
                d = Digest(str(e["hex"]), int(str(e["size"])))
                theirs = [int(h) for h in e["sketch"]]  # type: ignore[attr-defined]
            except (KeyError, TypeError, ValueError):
                continue
            s = share(mine, theirs)
            if s >= MIN_SHARE and (best is None or s > best[0]) and d in index:
                best = (s, -age, d)
        return best[2] if best else None

    def remember(self, digest: Digest, paths: Callable[[], Iterable[str]]) -> None:
        """Add the sketch of bundle ``digest``, whose files are ``paths()`` (keeping the last
        ``KEEP``); nothing to do when it is the last one kept.  Best effort."""
        if self.path is None:
            return
        entries = self._load()
        if entries and entries[-1].get("hex") == digest.hex:
            return
        entries = [e for e in entries if e.get("hex") != digest.hex][-(KEEP - 1) :]
        entries.append({"hex": digest.hex, "size": digest.size, "sketch": sketch(paths())})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(json.dumps({"entries": entries}))
            os.replace(tmp, self.path)
        except OSError:
            pass
