"""Staged files are written on a thread of their own; its errors reach the restore, which then
leaves nothing behind."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from flowpack.cas import stagewriter
from flowpack.cas.memory import MemoryBudget
from flowpack.cas.opening import open_store
from flowpack.cas.restore import restore_tree
from flowpack.cas.stagewriter import Folders, StageWriter


def test_files_are_written_whole_with_their_mode_and_the_budget_is_given_back(
    tmp_path: Path,
) -> None:
    budget = MemoryBudget(4 << 20)
    writer = StageWriter(Folders(tmp_path), budget)
    for i in range(50):
        writer.write(tmp_path / str(i), tmp_path / "a" / "b", [b"x" * 40_000, b"y" * i], 0o750)
    writer.close()
    assert (tmp_path / "a" / "b").is_dir(), "the folder the file belongs in is made"
    for i in range(50):
        path = tmp_path / str(i)
        assert path.read_bytes() == b"x" * 40_000 + b"y" * i
        assert stat.S_IMODE(path.stat().st_mode) == 0o750
    assert budget.held == 0


def test_an_error_of_the_thread_is_raised_and_later_files_are_not_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "1").write_bytes(b"already there")
    writer = StageWriter(Folders(tmp_path), MemoryBudget(4 << 20))
    writer.write(tmp_path / "0", tmp_path, [b"first"], 0o644)
    writer.write(tmp_path / "1", tmp_path, [b"clash"], 0o644)  # O_EXCL refuses it
    with pytest.raises(FileExistsError):
        for i in range(2, 200):
            writer.write(tmp_path / str(i), tmp_path, [b"later"], 0o644)
        writer.close()
    writer.close(check=False)
    assert (tmp_path / "1").read_bytes() == b"already there"
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["0", "1"]


def test_a_restore_whose_writes_fail_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    for i in range(40):
        (tree / f"d{i % 4}").mkdir(parents=True, exist_ok=True)
        (tree / f"d{i % 4}" / f"f{i}.txt").write_bytes(os.urandom(3000))
    store = open_store((tmp_path / "store").as_uri(), cache_dir=None)
    digest = store.put_tree(tree).digest
    written = []
    real = stagewriter.write_file

    def disk_full_after_ten(tmp: Path, pieces: list[bytes], mode: int) -> None:
        if len(written) == 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(tmp)
        real(tmp, pieces, mode)

    monkeypatch.setattr(stagewriter, "write_file", disk_full_after_ten)
    dest = tmp_path / "out" / "dest"
    with pytest.raises(OSError, match="No space left"):
        restore_tree(store, digest, dest)
    assert len(written) == 10
    assert not (tmp_path / "out").exists(), "a failed restore leaves nothing"
