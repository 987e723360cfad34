"""Helpers for the flow tests: sample projects on disk, and damaging stored objects."""

from __future__ import annotations

import os
from pathlib import Path

from flowpack.cas.digest import Digest
from flowpack.cas.opening import open_store
from flowpack.cas.store import Store

FLOW = """\
from flowpack import Flow, task

from helpers import transform
from lib.util import scale


@task
def get_data():
    return [1, 2, 3]


@task
def show(data):
    out = transform(scale(data))
    print(out)
    return out


with Flow("etl") as flow:
    show(get_data())
"""

HELPERS = "OFFSET = 1\n\n\ndef transform(values):\n    return [v + OFFSET for v in values]\n"
UTIL = "def scale(values):\n    return [v * 2 for v in values]\n"


def make_project(root: Path, offset: int = 1) -> Path:
    """Write the sample project at ``root`` and return ``root``.

    ``flows/etl.py`` defines flow ``etl``, importing ``flows/helpers.py`` (a sibling module)
    and ``lib/util.py`` (a package at the project root).  Running it gives
    ``[v * 2 + offset for v in [1, 2, 3]]``.
    """
    (root / "flows").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'sample'\n")
    (root / "README.md").write_text("not part of any bundle\n")
    (root / "flows" / "etl.py").write_text(FLOW)
    (root / "flows" / "helpers.py").write_text(HELPERS.replace("OFFSET = 1", f"OFFSET = {offset}"))
    (root / "lib" / "__init__.py").write_text("")
    (root / "lib" / "util.py").write_text(UTIL)
    return root


def expected(offset: int = 1) -> list[int]:
    return [v * 2 + offset for v in [1, 2, 3]]


def reopen(store: Store) -> Store:
    """A fresh Store object on the same directory (nothing cached)."""
    return open_store(store.url, cache_dir=None)


def pack_path(store: Store, digest: Digest) -> tuple[Path, int, int]:
    """The pack file holding object ``digest``, and its frame's offset and length there."""
    store.sync()
    loc = store.index.get(digest)
    assert loc is not None, f"{digest} is not stored"
    root = Path(store.url[len("file://") :])
    return root / "packs" / loc.pack.hex, loc.frame_offset, loc.frame_length


def damage(store: Store, digest: Digest) -> None:
    """Change one byte in the middle of the stored frame that holds ``digest``."""
    path, offset, length = pack_path(store, digest)
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0xFF
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


def remove(store: Store, digest: Digest) -> None:
    """Delete the pack file that holds ``digest`` (a record alone in its pack)."""
    path, _, _ = pack_path(store, digest)
    path.unlink()
