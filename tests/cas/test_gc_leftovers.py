"""A killed push leaves ``packs/.tmp-*`` (the local adapter's unpublished uploads): gc removes
those older than the grace period, keeps younger ones (a push may still be writing them), and
never touches a published blob."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from wholestore import file_store, push, random_bytes

from flowpack.cas.gc import collect
from flowpack.cas.verify import verify


def plant(directory: Path, age: float, prefix: str = ".tmp-") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{prefix}{uuid.uuid4().hex}"
    path.write_bytes(random_bytes(5000, 7))
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_killed_push_temporary_files_are_removed_by_gc_after_the_grace(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = file_store(root)
    store.set_ref("flows/p/f", push(store, {"f.bin": random_bytes(3000, 1)}).digest)
    old = [plant(root / "packs", 7200), plant(root / "index", 7200), plant(root, 7200)]
    old.append(plant(root / "refs" / "flows" / "p", 7200, prefix=".f.tmp-"))
    young = plant(root / "packs", 10)

    dry = collect(file_store(root), grace=3600, dry_run=True)
    assert dry.leftovers_deleted == 4 and all(p.exists() for p in old)
    assert "4 leftover temporary files" in dry.summary()

    report = collect(file_store(root), grace=3600)
    assert report.leftovers_deleted == 4 and report.freed_bytes >= 4 * 5000
    assert not any(p.exists() for p in old)
    assert young.exists()
    assert verify(file_store(root), read_data=True).ok
    assert file_store(root).resolve("flows/p/f")
