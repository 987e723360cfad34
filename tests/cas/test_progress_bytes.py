"""Long whole-store work reports bytes through ``progress(stage, done, total)``: the total is
known at the first report (done 0), done only grows and ends at the total, so a rate and an
ETA can be drawn from the first second."""

from __future__ import annotations

from pathlib import Path

import pytest
from wholestore import file_store, push, random_bytes, text_bytes

from flowpack.cas.copying import copy_objects
from flowpack.cas.gc import collect
from flowpack.cas.restore import restore_tree
from flowpack.cas.store import Store
from flowpack.cas.verify import verify

FILES = {
    **{f"t{i}.txt": text_bytes(300_000, i) for i in range(6)},
    **{f"r{i}.bin": random_bytes(250_000, 10 + i) for i in range(4)},
    "empty": b"",
}


class Calls:
    """A progress callback that records every report."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.calls.append((stage, done, total))

    def stage(self, name: str) -> list[tuple[int, int]]:
        return [(d, t) for s, d, t in self.calls if s == name]


def check_bytes_stage(calls: Calls, name: str, total: int) -> None:
    """``name`` starts at (0, total), never goes back, and ends at (total, total)."""
    seen = calls.stage(name)
    assert seen, f"no {name!r} report in {calls.calls[:5]}"
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert len(seen) > 2  # updates on the way, not only at the ends
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and all(t == total for _, t in seen)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A bundle of FILES whose chunks lie in several packs (one per earlier push)."""
    s = file_store(tmp_path / "src")
    names = sorted(FILES)
    for part in (names[0::3], names[1::3], names[2::3]):
        push(s, {n: FILES[n] for n in part})
    s.refs.update("main", push(s, FILES).digest, create=True)
    return s


def test_pull_reports_bytes_of_files_restored(store: Store, tmp_path: Path) -> None:
    calls = Calls()
    digest = store.refs.require("main")
    manifest = restore_tree(store, digest, tmp_path / "out", progress=calls)
    assert manifest.size == sum(len(b) for b in FILES.values())
    check_bytes_stage(calls, "pull", manifest.size)


def test_copy_reports_bytes_sent_of_a_total_known_up_front(store: Store, tmp_path: Path) -> None:
    calls = Calls()
    dst = file_store(tmp_path / "dst")
    digest = store.refs.require("main")
    chunks = {c for f in store.get_manifest(digest).files for c in f.chunks}
    copy_objects(store, dst, [digest], calls)
    check_bytes_stage(calls, "copy", sum(c.size for c in chunks) + digest.size)
    again = Calls()
    copy_objects(store, dst, [digest], again)
    assert again.calls == []  # nothing lacking: no stage drawn


def test_verify_read_data_reports_bytes_of_packs_read(store: Store) -> None:
    calls = Calls()
    report = verify(store, read_data=True, progress=calls)
    assert report.ok
    packs = store.indexed_packs()
    assert len(packs) > 2
    check_bytes_stage(calls, "read", sum(p.pack.size for p in packs))
    assert report.checked["read_bytes"] == sum(p.pack.size for p in packs)
    check_bytes_stage(calls, "files", sum(len(b) for b in FILES.values()))


def test_gc_reports_bytes_of_manifests_and_packs(store: Store) -> None:
    for seed in (98, 99):  # two packs no ref reaches
        push(store, {"gone.bin": random_bytes(300_000, seed)})
    calls = Calls()
    first = collect(store, grace=0, progress=calls)
    live = sum(p.pack.size for p in store.indexed_packs() if p.pack.hex not in first.condemned)
    check_bytes_stage(calls, "examine", live)
    (mark,) = {t for _, t in calls.stage("mark")}
    assert mark > 0 and calls.stage("mark")[-1][0] <= mark  # reached manifests of all indexed
    assert calls.stage("sweep") == []  # condemned, nothing deleted yet
    again = Calls()
    second = collect(store, grace=0, progress=again)
    assert second.freed_bytes > 600_000 and len(second.deleted) == 2
    check_bytes_stage(again, "sweep", second.freed_bytes)
