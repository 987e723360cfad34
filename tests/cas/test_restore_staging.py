"""Restore stages every file in a private directory inside DEST: attacks on the old
staging names (``.<name>.flowpack-<pid>`` beside each target) must change nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import file_row, raw_manifest, snapshot, store_bundle

from flowpack.cas.opening import open_store
from flowpack.cas.restore import restore_tree
from flowpack.cas.store import Store

GOOD = b"print('the file cat shows')\n"
EVIL = b"import os; os.system('echo owned')\n"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    yield s
    s.close()


def test_staging_name_collision_keeps_every_file_its_own_bytes(store: Store, arena: Path) -> None:
    """A bundle holding both ``a`` and ``.a.flowpack-<pid>`` restores each with its own bytes."""
    stage_name = f".a.flowpack-{os.getpid()}"
    rows = sorted([file_row("a", GOOD), file_row(stage_name, EVIL)], key=lambda r: r[0])
    digest = store_bundle(store, raw_manifest(rows), [GOOD, EVIL])
    dest = arena / "dest"
    restore_tree(store, digest, dest)
    assert (dest / "a").read_bytes() == GOOD
    assert (dest / stage_name).read_bytes() == EVIL
    assert sorted(p.name for p in dest.iterdir()) == sorted(["a", stage_name])


@pytest.mark.parametrize("force", [False, True])
def test_planted_symlinks_at_staging_names_write_nothing_outside(
    store: Store, arena: Path, tmp_path: Path, force: bool
) -> None:
    """Symlinks planted in DEST at the old staging names, aimed outside, are never followed."""
    rows = sorted([file_row("a.py", GOOD), file_row("b.py", EVIL, 0o755)], key=lambda r: r[0])
    digest = store_bundle(store, raw_manifest(rows), [GOOD, EVIL])
    dest = arena / "dest"
    dest.mkdir()
    victim = tmp_path / "etc" / "passwd"
    for name in ("a.py", "b.py"):
        for pid in {os.getpid(), os.getppid()}:
            (dest / f".{name}.flowpack-{pid}").symlink_to(victim)
    outside = snapshot(tmp_path / "etc"), (arena / "canary.txt").read_bytes()
    victim_mode = victim.stat().st_mode
    restore_tree(store, digest, dest, force=force)
    assert (dest / "a.py").read_bytes() == GOOD and not (dest / "a.py").is_symlink()
    assert (dest / "b.py").read_bytes() == EVIL and os.access(dest / "b.py", os.X_OK)
    assert (snapshot(tmp_path / "etc"), (arena / "canary.txt").read_bytes()) == outside
    assert victim.stat().st_mode == victim_mode
    assert not [p for p in dest.iterdir() if p.name.startswith(".flowpack-stage")]


def test_a_255_byte_file_name_pushes_and_pulls(store: Store, tmp_path: Path) -> None:
    """The longest name a file system allows round-trips: staging names are short."""
    src = tmp_path / "src"
    src.mkdir()
    name = "n" * 251 + ".txt"
    assert len(name.encode()) == 255
    (src / name).write_bytes(GOOD)
    (src / "sub").mkdir()
    (src / "sub" / name).write_bytes(EVIL)
    digest = store.put_tree(src).digest
    dest = tmp_path / "dest"
    restore_tree(store, digest, dest)
    assert (dest / name).read_bytes() == GOOD
    assert (dest / "sub" / name).read_bytes() == EVIL
    assert snapshot(dest) == snapshot(src)
