"""The files cache: an unchanged tree is pushed without reading a file, and every change is
read again; the manifest is byte for byte the one a push without any cache makes."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowpack.backends.local import LocalBlobStore, LocalRefStore
from flowpack.cas import filescache, treepush
from flowpack.cas.digest import Digest
from flowpack.cas.gc import collect
from flowpack.cas.push import add_file
from flowpack.cas.store import Store
from flowpack.cas.tree import scan_tree

OLD = 1_600_000_000_000_000_000  # ns: an mtime far outside the racy window


def open_store(tmp_path: Path, *, cached: bool = True) -> Store:
    root = tmp_path / "store"
    cache = tmp_path / "cache" if cached else None
    return Store(LocalBlobStore(root), LocalRefStore(root), url=root.as_uri(), cache_dir=cache)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The bundle paths of the files a push reads from disk."""
    seen: list[str] = []

    def counting(writer, chunker, sf, bases):  # type: ignore[no-untyped-def]
        seen.append(sf.path)
        return add_file(writer, chunker, sf, bases)

    monkeypatch.setattr(treepush, "add_file", counting)
    yield seen


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch) -> None:
    """No racy window: the tests' files, all just written, may be trusted at once."""
    monkeypatch.setattr(filescache, "RACY_NS", -(10**12))


def write(path: Path, data: bytes, mtime: int = OLD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime, mtime))


def make_tree(root: Path) -> Path:
    for d in ("a", "a/deep/er", "b", "b-c", "c"):
        for i in range(3):
            write(root / d / f"f{i}.txt", f"{d} {i}\n".encode() * 20)
    write(root / "top.txt", b"top\n")
    write(root / "a.txt", b"sorts between a/ and a/...\n")
    write(root / "empty", b"")
    write(root / "big.bin", os.urandom(300_000))  # several chunks
    write(root / "run.sh", b"#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    write(root / "skip.pyc", b"ignored")
    os.symlink("top.txt", root / "link")
    return root


def uncached_digest(tmp_path: Path, tree: Path) -> Digest:
    """What a push with no cache at all, through the per-file path, stores for ``tree``."""
    store = open_store(tmp_path / "plain", cached=False)
    return store.put_files(scan_tree(tree)).digest


def test_an_unchanged_tree_reads_nothing(tmp_path: Path, reads: list[str], trusting: None) -> None:
    tree = make_tree(tmp_path / "tree")
    first = open_store(tmp_path).put_tree(tree)
    assert len(reads) == first.files == 21 and first.ignored == 1
    reads.clear()
    again = open_store(tmp_path).put_tree(tree)
    assert reads == []
    assert again.digest == first.digest == uncached_digest(tmp_path, tree)
    assert (again.files, again.size, again.chunks) == (first.files, first.size, first.chunks)
    assert again.ignored == 1


def _content(tree: Path) -> None:
    write(tree / "a/deep/er/f1.txt", b"X" * len((tree / "a/deep/er/f1.txt").read_bytes()), OLD + 1)


def _size(tree: Path) -> None:
    write(tree / "b/f0.txt", b"longer now\n" * 50, OLD)


def _same_size_same_mtime_other_inode(tree: Path) -> None:
    target = tree / "c/f2.txt"
    n = len(target.read_bytes())
    write(tree / "c.new", b"Y" * n, OLD)
    os.replace(tree / "c.new", target)  # same size, same mtime, another inode


def _mode(tree: Path) -> None:
    (tree / "a/f0.txt").chmod(0o755)


def _new(tree: Path) -> None:
    write(tree / "a/deep/new.txt", b"new\n")


def _deleted(tree: Path) -> None:
    (tree / "b-c/f1.txt").unlink()


def _renamed_file(tree: Path) -> None:
    os.rename(tree / "b/f1.txt", tree / "b/g1.txt")


def _renamed_folder(tree: Path) -> None:
    os.rename(tree / "a/deep", tree / "a/shallow")


def _symlink(tree: Path) -> None:
    (tree / "link").unlink()
    os.symlink("a.txt", tree / "link")


def _now_ignored(tree: Path) -> None:
    write(tree / ".flowpackignore", b"b-c/\n")


CHANGES: dict[str, tuple[Callable[[Path], None], set[str]]] = {
    "content, deep": (_content, {"a/deep/er/f1.txt"}),
    "size": (_size, {"b/f0.txt"}),
    "same size and mtime, other inode": (_same_size_same_mtime_other_inode, {"c/f2.txt"}),
    "mode": (_mode, {"a/f0.txt"}),
    "new file": (_new, {"a/deep/new.txt"}),
    "deleted file": (_deleted, set()),
    "renamed file": (_renamed_file, {"b/g1.txt"}),
    "renamed folder": (_renamed_folder, {f"a/shallow/er/f{i}.txt" for i in range(3)}),
    "symlink": (_symlink, {"link"}),
    "ignore file": (_now_ignored, {".flowpackignore"}),  # b-c/ drops out; the rest stands
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_is_read_again(
    tmp_path: Path, reads: list[str], trusting: None, change: str
) -> None:
    tree = make_tree(tmp_path / "tree")
    first = open_store(tmp_path).put_tree(tree)
    apply, expected = CHANGES[change]
    apply(tree)
    reads.clear()
    again = open_store(tmp_path).put_tree(tree)
    assert set(reads) == expected
    assert again.digest != first.digest
    assert again.digest == uncached_digest(tmp_path, tree)
    reads.clear()
    assert open_store(tmp_path).put_tree(tree).digest == again.digest and reads == []


def test_a_file_changed_within_the_racy_window_is_read_again(
    tmp_path: Path, reads: list[str]
) -> None:
    tree = tmp_path / "tree"
    write(tree / "old.txt", b"old\n")
    write(tree / "sub/old.txt", b"old\n")
    time.sleep(filescache.RACY_NS / 1e9 + 1)  # the ctimes leave the window
    (tree / "fresh.txt").write_bytes(b"one\n")  # mtime and ctime: now
    open_store(tmp_path).put_tree(tree)
    reads.clear()
    open_store(tmp_path).put_tree(tree)
    assert reads == ["fresh.txt"]  # its stat was not trusted: a change could hide in it


def test_chunks_gc_removed_are_stored_again(
    tmp_path: Path, reads: list[str], trusting: None
) -> None:
    tree = make_tree(tmp_path / "tree")
    store = open_store(tmp_path)
    first = store.put_tree(tree)
    for _ in range(2):  # no ref holds the bundle: condemned, then swept
        collect(open_store(tmp_path), grace=0)
    assert not open_store(tmp_path).has(first.digest)
    reads.clear()
    again = open_store(tmp_path).put_tree(tree)
    assert len(reads) == first.files - 1  # all but the empty file: its chunks are gone
    assert again.digest == first.digest
    assert (
        open_store(tmp_path).read_file(again.digest, "big.bin") == (tree / "big.bin").read_bytes()
    )


def test_a_damaged_cache_is_ignored(tmp_path: Path, reads: list[str], trusting: None) -> None:
    tree = make_tree(tmp_path / "tree")
    store = open_store(tmp_path)
    first = store.put_tree(tree)
    (cache,) = (tmp_path / "cache").rglob("files.bin")
    data = bytearray(cache.read_bytes())
    data[len(data) // 2] ^= 1
    cache.write_bytes(bytes(data))
    reads.clear()
    assert open_store(tmp_path).put_tree(tree).digest == first.digest
    assert len(reads) == first.files


def test_two_trees_keep_their_own_records(tmp_path: Path, reads: list[str], trusting: None) -> None:
    one = make_tree(tmp_path / "one")
    two = tmp_path / "two"
    shutil.copytree(one, two, symlinks=True)
    d1 = open_store(tmp_path).put_tree(one).digest
    d2 = open_store(tmp_path).put_tree(two).digest
    reads.clear()
    assert open_store(tmp_path).put_tree(one).digest == d1
    assert open_store(tmp_path).put_tree(two).digest == d2
    assert reads == []


def test_the_cache_keeps_the_most_recent_trees_only(
    tmp_path: Path, reads: list[str], trusting: None
) -> None:
    """A folder per release pushed in turn: the cache keeps ``MAX_TREES`` of them, so loading it
    costs the same at the hundredth release as at the fourth; a tree it dropped is read again
    and stores the same bundle."""
    trees = [tmp_path / f"release{n}" for n in range(filescache.MAX_TREES + 2)]
    shutil.copytree(make_tree(trees[0]), trees[1], symlinks=True)
    for t in trees[2:]:
        shutil.copytree(trees[0], t, symlinks=True)
    digests = [open_store(tmp_path).put_tree(t).digest for t in trees]
    kept = open_store(tmp_path)
    reads.clear()
    assert [kept.put_tree(t).digest for t in trees[-filescache.MAX_TREES :]] == digests[
        -filescache.MAX_TREES :
    ]
    assert reads == []  # the last MAX_TREES trees are remembered
    assert open_store(tmp_path).put_tree(trees[0]).digest == digests[0]
    assert reads  # the oldest was dropped: read again, same bundle
