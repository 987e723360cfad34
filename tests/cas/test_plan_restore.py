"""Checking a restore's targets before anything is written: existing files, and parents that
are symlinks or files, are refused; a fresh restore looks only at the top of each new tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from wholestore import file_store, push

from flowpack.cas.errors import AlreadyExists, UnsafePath
from flowpack.cas.manifest import Manifest
from flowpack.cas.tree import plan_restore

FILES = {f"a/b{i}/c{j}/f{k}.txt": b"x%d" % k for i in range(4) for j in range(5) for k in range(3)}


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    store = file_store(tmp_path / "store")
    return store.get_manifest(push(store, {**FILES, "top.txt": b"t"}).digest)


def test_a_fresh_restore_looks_only_at_the_top_of_each_new_tree(
    manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    looked: list[str] = []
    real_lstat = os.lstat  # what os.path.lexists calls too
    monkeypatch.setattr(os, "lstat", lambda p, *a, **k: looked.append(str(p)) or real_lstat(p))
    plan_restore(manifest, dest, force=False)
    # "a" is missing, so nothing under it is looked at; "top.txt" lies in dest itself
    assert sorted(looked) == [str(dest / "a"), str(dest / "top.txt")]


def test_existing_targets_and_unsafe_parents_are_refused(
    manifest: Manifest, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    (dest / "a" / "b2" / "c3").mkdir(parents=True)
    plan_restore(manifest, dest, force=False)  # folders that exist are fine
    (dest / "a" / "b2" / "c3" / "f1.txt").write_bytes(b"old")
    with pytest.raises(AlreadyExists, match=r"f1\.txt exists"):
        plan_restore(manifest, dest, force=False)
    plan_restore(manifest, dest, force=True)
    (dest / "a" / "b1").symlink_to(tmp_path)
    for force in (False, True):
        with pytest.raises(UnsafePath, match="symlink or a file"):
            plan_restore(manifest, dest, force=force)
    (dest / "a" / "b1").unlink()
    (dest / "a" / "b1").write_bytes(b"a file where a folder goes")
    with pytest.raises(UnsafePath, match="symlink or a file"):
        plan_restore(manifest, dest, force=True)
