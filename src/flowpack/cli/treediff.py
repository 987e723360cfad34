"""Comparing two bundles: which paths were added, removed or changed, and text diffs.

A path is *changed* when its content digest or its mode differs.  A changed file gets a unified
diff when both versions decode as UTF-8 without NUL bytes and neither exceeds
:data:`MAX_DIFF_BYTES`; otherwise the diff says why it is not shown.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowpack.cas.manifest import FileEntry, Manifest
    from flowpack.cas.store import Store

MAX_DIFF_BYTES = 4 << 20


@dataclass(frozen=True)
class TreeDiff:
    """Paths present only in B (added), only in A (removed), and in both but different."""

    added: tuple[FileEntry, ...]
    removed: tuple[FileEntry, ...]
    changed: tuple[tuple[FileEntry, FileEntry], ...]


def compare(a: Manifest, b: Manifest) -> TreeDiff:
    """What changed from ``a`` to ``b``, each list sorted by path."""
    old = {f.path: f for f in a.files}
    new = {f.path: f for f in b.files}
    added = tuple(new[p] for p in sorted(new.keys() - old.keys()))
    removed = tuple(old[p] for p in sorted(old.keys() - new.keys()))
    changed = tuple(
        (old[p], new[p])
        for p in sorted(old.keys() & new.keys())
        if old[p].digest != new[p].digest or old[p].mode != new[p].mode
    )
    return TreeDiff(added, removed, changed)


def text_of(data: bytes) -> str | None:
    """``data`` as text, or None if it looks binary."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def unified(store: Store, old: FileEntry, new: FileEntry) -> tuple[list[str], str | None]:
    """The unified diff lines from ``old`` to ``new``, or ``([], reason)`` when not shown."""
    if old.digest == new.digest:
        return [], None
    if max(old.size, new.size) > MAX_DIFF_BYTES:
        return [], f"files a/{old.path} and b/{new.path} differ (too large to diff)"
    before, after = text_of(store.file_bytes(old)), text_of(store.file_bytes(new))
    if before is None or after is None:
        return [], f"binary files a/{old.path} and b/{new.path} differ"
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{old.path}",
        tofile=f"b/{new.path}",
    )
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line[:-1])
        else:
            out.extend([line, "\\ No newline at end of file"])
    return out, None
