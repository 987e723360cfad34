"""Bounds on a push's work: a decode budget per frame, parents found by content (the files
cache: test_filescache.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from wholestore import cached_store as open_store

from flowpack.cas import bases as bases_mod
from flowpack.cas import writer as writer_mod
from flowpack.cas.budget import BaseBudget, base_work
from flowpack.cas.digest import Digest
from flowpack.cas.memory import process_budget
from flowpack.cas.tree import SourceFile, scan_tree


def version(n: int, files: int = 6) -> list[SourceFile]:
    out = []
    for f in range(files):
        body = "".join(
            f'  "k{i}": "{f}-{i}-{(i * 7 + n) % 13 if i % 50 == n % 50 else 0}",\n'
            for i in range(1500)
        )
        out.append(SourceFile.from_bytes(f"m/f{f}.json", ("{\n" + body + "}\n").encode()))
    return out


def test_decode_work_per_frame_stays_within_the_budget(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    prev: Digest | None = None
    for n in range(24):
        prev = store.put_files(version(n), parent=prev).digest
    cold = open_store(tmp_path)  # a new process: nothing decoded yet
    with cold.batch() as stats:
        res = cold.put_files(version(99), parent=prev)
    frames = max(1, stats.new_chunks)
    assert stats.base_bytes_planned <= frames * base_work(process_budget())
    assert res.bytes_uploaded < sum(len(f.read()) for f in version(99)) // 4  # still deltas
    assert cold.read_file(res.digest, "m/f3.json") == version(99)[3].read()


def test_bases_over_budget_are_left_out_and_data_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path)
    prev = store.put_files(version(1)).digest
    monkeypatch.setattr(
        writer_mod, "BaseBudget", lambda reader, limit=None: BaseBudget(reader, limit=1)
    )
    with store.batch() as stats:
        res = store.put_files(version(2), parent=prev)
    assert stats.bases_dropped >= 1 and stats.base_bytes_planned == 0
    assert open_store(tmp_path).read_file(res.digest, "m/f0.json") == version(2)[0].read()


def test_a_push_without_a_parent_finds_one_by_content(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    first = store.put_files(version(1))
    second = open_store(tmp_path).put_files(version(2))  # a new ref: no parent named
    assert second.bytes_uploaded < first.bytes_uploaded // 4
    other = tmp_path / "other"
    alone = open_store(other).put_files(version(2))
    assert second.bytes_uploaded < alone.bytes_uploaded // 4


def test_scan_keeps_each_files_stat(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "a" / "y.pyc").write_text("y")
    files = scan_tree(tmp_path / "a")
    assert [f.path for f in files] == ["x.txt"]
    assert files[0].stat is not None and files[0].stat.st_size == 1


def push_three(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fallbacks: int) -> tuple[int, int]:
    """Versions 1-3 with a working set of one and a half versions: version 3's bases (version
    2, whose frame needs version 1's) do not fit; version 1's alone do.  Returns version 3's
    bytes uploaded and the fallbacks it used."""
    monkeypatch.setattr(bases_mod, "MAX_FALLBACKS", fallbacks)
    size = sum(len(f.read()) for f in version(1))
    monkeypatch.setattr(
        writer_mod, "BaseBudget", lambda r, limit=None: BaseBudget(r, limit=size * 3 // 2)
    )
    store = open_store(tmp_path / f"fb{fallbacks}")
    prev: Digest | None = None
    for n in (1, 2):
        prev = store.put_files(version(n), parent=prev).digest
    with store.batch() as stats:
        res = store.put_files(version(3), parent=prev)
    assert [store.read_file(res.digest, f.path) for f in version(3)] == [
        f.read() for f in version(3)
    ]
    return stats.bytes_uploaded, stats.fallbacks_used


def test_a_base_over_the_working_set_gives_way_to_a_shallower_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without, used_without = push_three(tmp_path, monkeypatch, fallbacks=0)
    with_fallback, used = push_three(tmp_path, monkeypatch, fallbacks=3)
    assert used_without == 0 and used >= 1
    assert with_fallback < without // 2, (with_fallback, without)
