"""verify: every damaged object is found, named, and traced to what depends on it.

Damage is made by inverting single bytes of real files in a ``file://`` store: packs (magic,
frame headers and payloads, trailer, last byte), index files and ref files.  Readers must then
refuse (IntegrityError, nothing written) or return exactly the original bytes, never others.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from wholestore import file_store, flipped, push, random_bytes, read_tree, text_bytes

from flowpack.cas.chunker import ChunkerParams
from flowpack.cas.config import FIRST_FORMAT, FORMAT, StoreConfig
from flowpack.cas.digest import Digest
from flowpack.cas.errors import IntegrityError, UsageError
from flowpack.cas.pack import MAGIC, TRAILER, TRAILER_MAGIC, TRAILER_V1, U32
from flowpack.cas.restore import restore_tree
from flowpack.cas.store import Store
from flowpack.cas.verify import VerifyReport, verify

REF = "flows/proj/main"


def problem_objects(report: VerifyReport) -> set[str]:
    return {p.object for p in report.problems}


def the_pack(store: Store) -> tuple[Path, Digest]:
    store.sync()
    (entry,) = store.index.packs()
    return Path(store.url[len("file://") :]) / "packs" / entry.pack.hex, entry.pack


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, dict[str, bytes], Digest]:
    """A store with one bundle (one pack of three frames) under ``REF``."""
    files = {
        "flow.py": text_bytes(3000, 1),
        "data/blob.bin": random_bytes(700_000, 2),  # more than one frame of data
        "empty.txt": b"",
    }
    root = tmp_path / "store"
    store = file_store(root)
    result = push(store, files)
    store.set_ref(REF, result.digest)
    return root, files, result.digest


def test_clean_store_is_ok_and_counts_what_it_checked(small: tuple[Path, dict, Digest]) -> None:
    root, _, _ = small
    report = verify(file_store(root), read_data=True)
    assert report.ok, report.as_dict()
    assert report.checked["refs"] == 1
    assert report.checked["manifests"] == 1
    assert report.checked["files"] == 3
    assert report.checked["packs"] == 1
    assert report.checked["read_packs"] == 1
    assert report.as_dict()["ok"] is True


def _positions(store: Store) -> dict[str, int]:
    """Byte positions of interest in the only pack of ``store``."""
    store.sync()
    (entry,) = store.index.packs()
    frames = sorted(entry.frames, key=lambda f: f.offset)
    assert len(frames) >= 3
    size = entry.pack.size
    last = frames[-1]
    return {
        "first byte": 0,
        "end of magic": len(MAGIC) - 1,
        "first frame header": frames[0].offset + 6,
        "first frame payload": frames[0].offset + frames[0].length // 2,
        "middle frame payload": frames[1].offset + frames[1].length - 1,
        "manifest frame": last.offset + last.length - 3,
        "trailer body": last.offset + last.length + 2,
        "trailer length": size - TRAILER.size,
        "last byte": size - 1,
    }


IN_FRAMES = {"first frame payload", "middle frame payload", "manifest frame"}


def test_flipped_pack_bytes_are_reported_and_never_read_as_data(
    small: tuple[Path, dict, Digest], tmp_path: Path
) -> None:
    root, files, digest = small
    store = file_store(root)
    path, pack = the_pack(store)
    for where, pos in _positions(store).items():
        with flipped(path, pos):
            report = verify(file_store(root), read_data=True)
            assert not report.ok, where
            (problem,) = [p for p in report.problems if p.object == f"pack {pack}"]
            assert f"ref {REF}" in problem.referenced_by, where
            assert f"{digest}" in problem.referenced_by, where
            dest = tmp_path / f"out-{pos}"
            fresh = file_store(root)
            if where in IN_FRAMES:
                with pytest.raises(IntegrityError):
                    restore_tree(fresh, digest, dest)
                assert not dest.exists(), where
                continue
            try:  # a header field the reader does not need, the magic, or the trailer
                restore_tree(fresh, digest, dest)
            except IntegrityError:
                assert not dest.exists(), where
            else:  # what is read is still verified: exactly the original bytes
                assert read_tree(dest) == files, where
    assert verify(file_store(root), read_data=True).ok


@pytest.mark.parametrize("first_format", [True, False], ids=["store.v1", "store.v2"])
def test_each_store_format_is_written_as_it_is_and_read_whole(
    tmp_path: Path, first_format: bool
) -> None:
    """A store of the first format (``flowpack.store.v1``) keeps getting first-format packs, so
    the versions that know only it can go on sharing it; a new store gets the later format.
    Both verify, restore, and report a flipped byte in a frame header's record list."""
    root = tmp_path / "store"
    store = file_store(root)
    if first_format:
        cfg = StoreConfig(os.urandom(16).hex(), ChunkerParams(), format=FIRST_FORMAT)
        store.blobs.put("config", cfg.encode(), create_only=True)
    files = {"flow.py": text_bytes(3000, 1), "data/blob.bin": random_bytes(70_000, 2)}
    digest = push(store, files).digest
    store.set_ref(REF, digest)
    assert file_store(root).config.format == (FIRST_FORMAT if first_format else FORMAT)
    path, _ = the_pack(store)
    data = path.read_bytes()
    (entry,) = store.index.packs()
    assert data.endswith(TRAILER_V1 if first_format else TRAILER_MAGIC)
    # the manifest's digest is nowhere else in the pack (a manifest lists its files' chunks)
    assert data.count(digest.raw) == (2 if first_format else 0)
    assert verify(file_store(root), read_data=True).ok
    restore_tree(file_store(root), digest, tmp_path / "out")
    assert read_tree(tmp_path / "out") == files
    first = min(entry.frames, key=lambda f: f.offset)
    (hlen,) = U32.unpack_from(data, first.offset)
    with flipped(path, first.offset + U32.size + hlen - 1):  # the header's last record
        assert not verify(file_store(root), read_data=True).ok


def test_every_byte_of_a_tiny_pack_is_covered(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = file_store(root)
    content = b"print('hello')\n"
    digest = push(store, {"f.py": content}).digest
    store.set_ref(REF, digest)
    path, pack = the_pack(store)
    size = path.stat().st_size
    assert size < 600
    for pos in range(size):
        with flipped(path, pos):
            fresh = file_store(root)
            report = verify(fresh, read_data=True)
            assert f"pack {pack}" in problem_objects(report), pos
            try:
                got = fresh.read_file(digest, "f.py")
            except IntegrityError:
                continue
            assert got == content, pos  # never different bytes


def test_damaged_manifest_frame_names_the_object_without_read_data(
    small: tuple[Path, dict, Digest],
) -> None:
    root, _, digest = small
    store = file_store(root)
    path, _ = the_pack(store)
    manifest_pos = _positions(store)["manifest frame"]
    with flipped(path, manifest_pos):
        report = verify(file_store(root))
        assert f"object {digest}" in problem_objects(report)
        with pytest.raises(IntegrityError):
            file_store(root).read_file(digest, "flow.py")


def test_flipped_index_file_is_reported_and_reads_fail(
    small: tuple[Path, dict, Digest], tmp_path: Path
) -> None:
    root, _, digest = small
    (index_path,) = (root / "index").iterdir()
    size = index_path.stat().st_size
    for pos in (0, 5, size // 2, size - 1):
        with flipped(index_path, pos):
            report = verify(file_store(root), read_data=True)
            assert f"index blake3:{index_path.name}" in problem_objects(report), pos
            # with its only index unreadable, the bundle's objects are missing from the store
            missing = [p for p in report.problems if p.object == f"object {digest}"]
            assert missing and f"ref {REF}" in missing[0].referenced_by
            dest = tmp_path / f"out-{pos}"
            with pytest.raises(IntegrityError):
                restore_tree(file_store(root), digest, dest)
            assert not dest.exists()
            with pytest.raises(IntegrityError):
                file_store(root).read_file(digest, "flow.py")


def test_flipped_ref_is_reported_and_the_other_refs_still_checked(
    small: tuple[Path, dict, Digest], tmp_path: Path
) -> None:
    root, _, _ = small
    store = file_store(root)
    other = push(store, {"other.py": b"x = 1\n"}).digest
    for name in ("a/first", "z/last", "flows/proj/other"):
        store.set_ref(name, other)
    ref_path = root / "refs" / REF
    size = ref_path.stat().st_size
    for pos in (0, 7, size // 2, size - 2, size - 1):
        with flipped(ref_path, pos):
            report = verify(file_store(root))
            damaged = [p for p in report.problems if p.object == f"ref {REF}"]
            assert len(report.problems) == 1 and damaged, (pos, report.as_dict())
            assert report.checked["refs"] == 4
            assert report.checked["manifests"] == 1  # the other refs' bundle
            dest = tmp_path / f"out-{pos}"
            fresh = file_store(root)
            with pytest.raises(IntegrityError):
                restore_tree(fresh, fresh.resolve(REF), dest)
            assert not dest.exists()
    assert verify(file_store(root)).ok


def test_missing_and_truncated_packs_are_found_without_reading_data(
    small: tuple[Path, dict, Digest],
) -> None:
    root, _, digest = small
    path, pack = the_pack(file_store(root))
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    report = verify(file_store(root))
    (problem,) = report.problems
    assert problem.object == f"pack {pack}" and "bytes" in problem.message
    assert f"blake3:{digest.hex}:flow.py" in problem.referenced_by
    path.unlink()
    report = verify(file_store(root))
    by_object = {p.object: p for p in report.problems}
    assert by_object[f"pack {pack}"].message == "is missing"
    assert by_object[f"pack {pack}"].referenced_by[0] == f"ref {REF}"
    # the manifest lived in that pack too, so it cannot be read either
    assert by_object[f"object {digest}"].referenced_by == [f"ref {REF}"]


def test_targets_and_subsets_restrict_what_is_read(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = file_store(root)
    digests = [push(store, {f"f{i}.bin": random_bytes(3000, i)}).digest for i in range(6)]
    for i, d in enumerate(digests):
        store.set_ref(f"flows/p/f{i}", d)
    store.sync()
    victim = store.index.get(Digest.of(random_bytes(3000, 0)))  # f0.bin, one chunk
    assert victim is not None
    vpath = root / "packs" / victim.pack.hex
    with flipped(vpath, victim.frame_offset + 10):
        assert not verify(file_store(root), read_data=True).ok
        only_other = verify(file_store(root), [digests[1]], read_data=True)
        assert only_other.ok and only_other.checked["read_packs"] == 1
        assert not verify(file_store(root), [digests[0]], read_data=True).ok
        assert not verify(file_store(root), None, all_refs=True, read_data=True).ok
        reads = []
        found = []
        for n in (1, 2, 3):
            r = verify(file_store(root), read_data=True, subset=(n, 3))
            reads.append(r.checked.get("read_packs", 0))
            found.append(not r.ok)
        assert sum(reads) == 6
        assert found.count(True) == 1
    with pytest.raises(UsageError):
        verify(store, read_data=True, subset=(4, 3))


def test_damage_to_a_base_is_traced_to_the_versions_built_on_it(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = file_store(root)
    v1 = text_bytes(200_000, 7)
    d1 = push(store, {"flow.py": v1}).digest
    v2 = v1[:100_000] + b"# changed\n" + v1[100_000:]
    d2 = push(store, {"flow.py": v2}, parent=d1).digest
    store.set_ref(REF, d2)  # v1 is reachable only as the base of v2's frames
    store.sync()
    assert any(f.depth > 0 for p in store.index.packs() for f in p.frames)
    loc = store.index.get(d1)
    assert loc is not None
    v1_pack = root / "packs" / loc.pack.hex
    first = min(f.offset for f in next(p for p in store.index.packs() if p.pack == loc.pack).frames)
    with flipped(v1_pack, first + 40):
        report = verify(file_store(root), read_data=True)
        by_object = {p.object: p for p in report.problems}
        problem = by_object[f"pack {loc.pack}"]
        assert f"ref {REF}" in problem.referenced_by
        assert f"blake3:{d2.hex}:flow.py" in problem.referenced_by
        with pytest.raises(IntegrityError):
            file_store(root).read_file(d2, "flow.py")
    assert verify(file_store(root), read_data=True).ok


def test_empty_and_memory_stores(tmp_path: Path) -> None:
    from flowpack.cas.opening import open_store

    assert verify(file_store(tmp_path / "nothing"), read_data=True).ok
    mem = open_store("memory://", cache_dir=None)
    d = push(mem, {"a": b"abc" * 1000}).digest
    mem.set_ref(REF, d)
    report = verify(mem, read_data=True)
    assert report.ok and report.checked["manifests"] == 1
    missing = Digest.of(b"never stored")
    report = verify(mem, [missing])
    assert [p.object for p in report.problems] == [f"object {missing}"]
