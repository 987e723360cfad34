"""A restore (and a copy, an export) decodes each frame of its base tree once, within the
memory budget.

The frames one version's files live in are compressed against earlier versions' frames, which
are often the frames of the same version's other files: one wide, deep base tree.  A restore
announces its reads (``Store.planned``), so the reader keeps the frames later reads need and,
when its cache must evict one of them, keeps that frame's records in the restore's staging
directory (``cas/spill.py``) instead of decoding it again.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import blake3
import pytest
from wholestore import cached_store as open_store

from flowpack.cas.digest import Digest
from flowpack.cas.memory import MemoryBudget
from flowpack.cas.reader import ChunkReader
from flowpack.cas.restore import restore_tree
from flowpack.cas.spill import FrameSpill
from flowpack.cas.transfer import export_bundle
from flowpack.cas.tree import SourceFile


def releases(count: int) -> list[list[SourceFile]]:
    """30 text files of ~30 KB, a third of them edited in a few lines per release (as API
    models are): a release's files live in frames of many releases, bases of each other."""
    rng = random.Random(11)
    words = [f"w{i}" for i in range(2000)]
    files = [[" ".join(rng.choices(words, k=8)) for _ in range(600)] for _ in range(30)]
    out = []
    for _ in range(count):
        for lines in rng.sample(files, 10):
            for _ in range(3):
                lines[rng.randrange(len(lines))] = " ".join(rng.choices(words, k=8))
        out.append(
            [
                SourceFile.from_bytes(f"models/m{i:02}.txt", ("\n".join(ls) + "\n").encode())
                for i, ls in enumerate(files)
            ]
        )
    return out


def pushed(root: Path, count: int) -> tuple[Digest, list[list[SourceFile]]]:
    store = open_store(root)
    history = releases(count)
    prev: Digest | None = None
    for files in history:
        prev = store.put_files(files, parent=prev).digest
    assert prev is not None
    return prev, history


@contextmanager
def cache_full(budget: MemoryBudget) -> Iterator[None]:
    """Within the block the budget's caches are full, as when other readers of the process
    hold them: a reader keeps one frame at a time."""
    budget.cache(budget.total)
    try:
        yield
    finally:
        budget.cache(-budget.total)


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, int]]:
    decodes: Counter[tuple[str, int]] = Counter()
    decode = ChunkReader._decode

    def counting(self: ChunkReader, loc: Any, *args: Any) -> dict[bytes, bytes]:
        decodes[(loc.pack.hex, loc.frame_offset)] += 1
        return decode(self, loc, *args)

    monkeypatch.setattr(ChunkReader, "_decode", counting)
    return decodes


def test_a_restore_decodes_every_frame_once_with_no_room_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last, history = pushed(tmp_path, 8)
    fresh = open_store(tmp_path)
    budget = fresh.reader.budget
    held = budget.held  # other stores of this process may hold some
    decodes = count_decodes(monkeypatch)
    kept: list[int] = []
    put = FrameSpill.put

    def counting_put(self: FrameSpill, records: dict[bytes, bytes]) -> None:
        kept.append(len(records))
        put(self, records)

    monkeypatch.setattr(FrameSpill, "put", counting_put)
    with cache_full(budget):
        restore_tree(fresh, last, tmp_path / "out")
    for f in history[-1]:
        assert (tmp_path / "out" / f.path).read_bytes() == f.read()
    assert len(decodes) > 8, "the restore went through a tree of delta bases"
    assert max(decodes.values()) == 1, "a frame was decoded twice in one restore"
    assert kept, "frames evicted before their reads were kept on disk"
    assert budget.held == held, "raw frames read ahead and served from the spill are let go"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["models"], "spill left"


def test_without_a_plan_the_same_restore_decodes_frames_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: reading the same files one by one, unplanned, re-decodes."""
    last, _ = pushed(tmp_path, 8)
    fresh = open_store(tmp_path)
    budget = fresh.reader.budget
    decodes = count_decodes(monkeypatch)
    with cache_full(budget):
        for f in fresh.get_manifest(last).files:
            fresh.file_bytes(f)
    assert max(decodes.values()) > 1


def test_a_damaged_spilled_record_is_never_returned(tmp_path: Path) -> None:
    spill = FrameSpill(tmp_path)
    good, other = b"a record kept on disk", b"a record no plan reads"
    digest = blake3.blake3(good).digest()
    spill.wanted.add(digest)
    spill.put({digest: good, blake3.blake3(other).digest(): other})
    assert spill.written == len(good), "only the wanted record is kept"
    assert spill.get(digest) == good
    assert spill.path is not None
    with open(spill.path, "r+b") as fh:
        fh.write(b"A")
    assert spill.get(digest) is None, "a damaged copy was returned"
    assert digest not in spill, "a damaged copy is forgotten (decoded again)"
    spill.close()
    assert list(tmp_path.iterdir()) == []


def test_the_plan_reports_the_frames_it_reads_before_the_files(tmp_path: Path) -> None:
    """On a remote store the plan is where frames are downloaded: it shows as a stage."""
    last, _ = pushed(tmp_path, 3)
    events: list[tuple[str, int, int]] = []
    restore_tree(open_store(tmp_path), last, tmp_path / "out", progress=lambda *e: events.append(e))
    plan = [e for e in events if e[0] == "plan"]
    assert plan[0][1] == 0 and plan[-1][1] == plan[-1][2] > 0, plan
    assert events.index(plan[-1]) < min(i for i, e in enumerate(events) if e[0] == "pull")


@pytest.mark.parametrize("verb", ["copy", "export"])
def test_copy_and_export_decode_every_frame_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verb: str
) -> None:
    last, history = pushed(tmp_path, 8)
    src = open_store(tmp_path)
    src_packs = {p.pack.hex for p in (src.sync(), src.indexed_packs())[1]}
    budget = src.reader.budget
    decodes = count_decodes(monkeypatch)
    with cache_full(budget):
        if verb == "copy":
            dst = open_store(tmp_path / "dst")
            src.copy_to(dst, [last])
        else:
            export_bundle(src, last, tmp_path / "out.pack")
    read = {k: n for k, n in decodes.items() if k[0] in src_packs}  # not the copy's own
    assert len(read) > 8, "the read went through a tree of delta bases"
    assert max(read.values()) == 1, f"a frame was decoded twice in one {verb}"
    if verb == "copy":
        for f in history[-1]:
            assert dst.read_file(last, f.path) == f.read()


def test_verify_read_data_decodes_every_base_frame_once_per_phase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``verify --read-data`` decodes each frame of each pack itself, and reads the bases of
    deltas (then the files it reassembles) through a reader: both are planned reads."""
    from flowpack.cas.verify import verify

    pushed(tmp_path, 8)
    store = open_store(tmp_path)
    budget = store.reader.budget
    held = budget.held  # other stores of this process may hold some
    decodes = count_decodes(monkeypatch)
    with cache_full(budget):
        report = verify(store, read_data=True)
    assert report.ok, report
    assert budget.held == held, "raw frames read ahead and served from the spill are let go"
    assert len(decodes) > 8, "the bases of deltas were read"
    assert max(decodes.values()) <= 2, "a frame was decoded again within one phase"


def test_a_plan_reads_no_more_than_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote store's plan reads ahead at most half its frame cache (none without one), so
    that no frame is downloaded twice; past that it plans from the index alone."""
    from flowpack.cas.readplan import plan_reads

    last, _ = pushed(tmp_path, 8)
    store = open_store(tmp_path)
    chunks = [c for f in store.get_manifest(last).files for c in f.chunks]
    reads: list[int] = []
    get = store.reader.blobs.get

    def counting_get(key: str, offset: int = 0, length: int | None = None) -> bytes:
        data = get(key, offset, length)
        reads.append(len(data))
        return data

    monkeypatch.setattr(store.reader.blobs, "get", counting_get)
    tops, _ = plan_reads(store.reader, chunks, limit=0)
    assert reads == [] and sum(tops.values()) == len(chunks), "the index alone"
    whole, _ = plan_reads(store.reader, chunks)
    assert sum(whole.values()) > len(chunks), "headers add the reads of bases"
    again, _ = plan_reads(store.reader, chunks, limit=1)
    assert again == whole, "headers read before cost nothing: planned whatever the limit"
    other = open_store(tmp_path)
    other.sync()
    fresh = other.reader
    monkeypatch.setattr(fresh.blobs, "get", counting_get)
    reads.clear()
    some, _ = plan_reads(fresh, chunks, limit=1)
    assert reads == [] and some == tops, "a window over the limit is not read"


def test_a_push_reads_bases_beyond_the_cache_once_per_frame_and_removes_its_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new frame's bases may need more old frames than the cache holds (``BASE_WORK``): the
    writer reads them as a planned read, so no old frame is decoded twice for one new frame,
    and the records it spills go to a private folder it removes at the end."""
    from flowpack.cas import writer as writer_mod

    last, history = pushed(tmp_path, 8)
    store = open_store(tmp_path)
    budget = store.reader.budget
    spills: list[FrameSpill] = []

    class Recording(FrameSpill):
        def __init__(self, directory: Path | None = None) -> None:
            super().__init__(directory)
            spills.append(self)

    per_frame: list[Counter[tuple[str, int]]] = []
    dictionary = writer_mod.Writer._dictionary

    def counting(self: writer_mod.Writer, bases: list[Digest]) -> bytes:
        per_frame.append(Counter())
        return dictionary(self, bases)

    decode = ChunkReader._decode

    def counting_decode(self: ChunkReader, loc: Any, *args: Any) -> dict[bytes, bytes]:
        if per_frame:
            per_frame[-1][(loc.pack.hex, loc.frame_offset)] += 1
        return decode(self, loc, *args)

    monkeypatch.setattr(writer_mod, "FrameSpill", Recording)
    monkeypatch.setattr(writer_mod.Writer, "_dictionary", counting)
    monkeypatch.setattr(ChunkReader, "_decode", counting_decode)
    store.workers = 1  # the counts are per new frame: one compression at a time
    with cache_full(budget):
        edited = [SourceFile.from_bytes(f.path, f.read() + b"more\n") for f in history[-1]]
        with store.batch() as stats:
            res = store.put_files(edited, parent=last)
    assert stats.base_bytes_planned > 0 and stats.bases_dropped == 0
    assert res.bytes_uploaded < sum(len(f.read()) for f in edited) // 4, "stored as deltas"
    decodes = [n for frame in per_frame for n in frame.values()]
    assert len(decodes) > 8 and max(decodes) == 1, "an old frame decoded twice for one frame"
    assert spills and spills[0].path is not None, "the bases overflowed the cache to disk"
    assert not spills[0].path.parent.exists(), "the spill folder is removed"
    assert [open_store(tmp_path).read_file(res.digest, f.path) for f in edited] == [
        f.read() for f in edited
    ]


def test_a_spill_that_keeps_nothing_writes_nothing(tmp_path: Path) -> None:
    """A read that never overflows the cache makes no file (nor folder) at all."""
    with FrameSpill(tmp_path) as spill:
        spill.put({blake3.blake3(b"not wanted").digest(): b"not wanted"})
        assert spill.path is None
    assert list(tmp_path.iterdir()) == []
