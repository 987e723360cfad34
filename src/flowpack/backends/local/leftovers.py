"""Finding and removing the temporary files a killed writer leaves in a local store.

Blob writes go through ``.tmp-<32 hex>`` files in the target directory and ref writes through
``.<name>.tmp-<32 hex>`` (see :mod:`flowpack.backends.local.adapter`); a process killed between
writing and publishing leaves one behind.  They are never listed as blobs; ``gc`` removes them
through :class:`flowpack.cas.protocols.LeftoverCleaner` once older than its grace period (a
younger one may belong to a write still in progress).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from flowpack.cas.errors import UsageError
from flowpack.cas.protocols import BlobInfo

TEMP_NAME = re.compile(r"^\.(?:.+\.)?tmp-[0-9a-f]{32}$")


def find_leftovers(root: Path, older_than: float) -> list[BlobInfo]:
    """Temporary files under ``root`` last modified before ``older_than``, by relative path."""
    out: list[BlobInfo] = []
    for dirpath, _dirs, files in os.walk(root):  # never follows symlinks to directories
        for name in files:
            if not TEMP_NAME.match(name):
                continue
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue  # published or removed meanwhile
            if stat.S_ISREG(st.st_mode) and st.st_mtime < older_than:
                rel = path.relative_to(root).as_posix()
                out.append(BlobInfo(rel, st.st_size, st.st_mtime))
    return sorted(out, key=lambda i: i.key)


def remove_leftover(root: Path, key: str) -> None:
    """Unlink the temporary file ``key`` under ``root``; idempotent."""
    rel = PurePosixPath(key)
    if rel.is_absolute() or ".." in rel.parts or not TEMP_NAME.match(rel.name):
        raise UsageError(f"not a temporary file of the store: {key!r}")
    (root / rel).unlink(missing_ok=True)
