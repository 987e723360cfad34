"""file:// passes the shared suites, and its lock files are safe across processes."""

from __future__ import annotations

import dataclasses
import errno
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from flowpack.backends.local import LocalBlobStore, LocalRefStore, open_local, path_from_url
from flowpack.backends.local import adapter as local
from flowpack.backends.local.lockfile import LockFile, LockOwner
from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    BackendError,
    InvalidRefName,
    NotFound,
    PermissionDenied,
    TransientBackendError,
    UsageError,
)
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance

needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs os.fork"
)


class TestLocalBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, tmp_path: Path) -> BlobStore:
        return LocalBlobStore(tmp_path / "store")


class TestLocalRefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, tmp_path: Path) -> RefStore:
        return LocalRefStore(tmp_path / "store")

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        assert isinstance(store, LocalRefStore)
        path = store.refs_dir / name
        path.write_bytes(path.read_bytes().replace(b"blake3:", b"blake3:0", 1))


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _lock_path(root: Path, name: str) -> Path:
    return root / "refs" / f"{name}.lock"


def _plant_lock(path: Path, data: bytes, age: float = 0.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        then = time.time() - age
        os.utime(path, (then, then))


# -- blobs ---------------------------------------------------------------------------------


def test_working_files_are_never_listed(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    blobs.put("packs/aa", b"pack")
    (tmp_path / "packs" / ".tmp-0123").write_bytes(b"partial")
    (tmp_path / ".tmp-4567").write_bytes(b"partial")
    (tmp_path / "packs" / "not a key").write_bytes(b"stray")
    LocalRefStore(tmp_path).compare_and_set("flows/p/f", Digest.of(b"x"), None)
    assert [i.key for i in blobs.iter_keys()] == ["packs/aa"]
    assert list(blobs.iter_keys("refs/")) == []
    assert list(blobs.iter_keys("refs/flows/p/")) == []


def test_failed_put_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blobs = LocalBlobStore(tmp_path)

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local.os, "fsync", no_space)
    with pytest.raises(BackendError, match="No space left"):
        blobs.put("packs/aa", b"x" * 1000)
    monkeypatch.undo()
    assert _files(tmp_path) == []
    with pytest.raises(NotFound):
        blobs.get("packs/aa")


def test_losing_creators_leave_no_temp_files(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    blobs.put("packs/aa", b"1")
    for _ in range(3):
        with pytest.raises(FileExistsError):
            blobs.put("packs/aa", b"2")
    assert _files(tmp_path) == ["packs/aa"]


def test_refs_directory_is_reserved(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    for key in ("refs", "refs/x"):
        with pytest.raises(UsageError, match="reserved"):
            blobs.put(key, b"x")


def test_a_directory_is_not_a_blob(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    blobs.put("packs/aa", b"x")
    with pytest.raises(NotFound):
        blobs.get("packs")
    with pytest.raises(NotFound):
        blobs.stat("packs")
    blobs.delete("packs")
    assert blobs.get("packs/aa") == b"x"


def test_permission_errors_are_translated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write the OS refuses (EACCES; root ignores modes, so the refusal is injected)."""
    blobs = LocalBlobStore(tmp_path)
    blobs.put("packs/aa", b"x")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "packs"))

    monkeypatch.setattr("flowpack.backends.local.adapter.os.link", refuse)
    with pytest.raises(PermissionDenied):
        blobs.put("packs/bb", b"y")
    monkeypatch.undo()
    assert [i.key for i in blobs.iter_keys("packs/")] == ["packs/aa"]
    assert [p.name for p in (tmp_path / "packs").iterdir()] == ["aa"]


def test_nothing_is_created_before_the_first_write(tmp_path: Path) -> None:
    location = open_local(str(tmp_path / "store"))
    blobs, refs = location.blobs, location.refs
    assert list(blobs.iter_keys()) == []
    assert refs.read("flows/p/f") is None
    assert list(refs.iter_refs()) == []
    assert not (tmp_path / "store").exists()


# -- refs ----------------------------------------------------------------------------------


def test_ref_values_are_stored_in_their_canonical_form(tmp_path: Path) -> None:
    refs = LocalRefStore(tmp_path)
    d = Digest.of(b"x")
    assert refs.compare_and_set("flows/p/f", d, None)
    assert (tmp_path / "refs" / "flows" / "p" / "f").read_bytes().startswith(f"{d} 1 ".encode())
    assert _files(tmp_path) == ["refs/flows/p/f"]


def test_a_ref_cannot_be_a_parent_of_another(tmp_path: Path) -> None:
    refs = LocalRefStore(tmp_path)
    d = Digest.of(b"x")
    assert refs.compare_and_set("a", d, None)
    with pytest.raises(InvalidRefName):
        refs.compare_and_set("a/b", d, None)
    assert refs.read("a/b") is None
    token = refs.read("a")
    assert token is not None and refs.compare_and_delete("a", token[1])
    assert refs.compare_and_set("a/b", d, None)
    with pytest.raises(InvalidRefName):
        refs.compare_and_set("a", d, None)
    token = refs.read("a/b")
    assert token is not None and refs.compare_and_delete("a/b", token[1])
    assert not (tmp_path / "refs" / "a").exists()  # empty directories are pruned
    assert refs.compare_and_set("a", d, None)


def test_an_empty_directory_left_behind_does_not_block_a_ref(tmp_path: Path) -> None:
    refs = LocalRefStore(tmp_path)
    (tmp_path / "refs" / "a").mkdir(parents=True)
    assert refs.compare_and_set("a", Digest.of(b"x"), None)
    assert [n for n, _ in refs.iter_refs()] == ["a"]


def test_live_lock_on_this_host_is_not_stolen(tmp_path: Path) -> None:
    refs = LocalRefStore(tmp_path, lock_timeout=0.3, stale_after=0.0)
    assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    found = refs.read("flows/p/f")
    assert found is not None
    lock = LockFile(_lock_path(tmp_path, "flows/p/f"))
    lock.acquire()  # held by this (live) process
    try:
        old = time.time() - 86400
        os.utime(lock.path, (old, old))  # however old it looks
        with pytest.raises(TransientBackendError, match=f"pid {os.getpid()}"):
            refs.compare_and_set("flows/p/f", Digest.of(b"2"), found[1])
        with pytest.raises(TransientBackendError):
            refs.compare_and_delete("flows/p/f", found[1])
        assert lock.still_held()
        assert refs.read("flows/p/f") == found
    finally:
        lock.release()
    assert refs.compare_and_set("flows/p/f", Digest.of(b"2"), found[1])


def _hold_lock_and_die(path: Path) -> None:
    LockFile(path).acquire()
    os._exit(0)


@needs_fork
def test_stale_lock_from_a_dead_process_is_recovered(tmp_path: Path) -> None:
    refs = LocalRefStore(tmp_path, lock_timeout=5.0)
    lock_path = _lock_path(tmp_path, "flows/p/f")
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_hold_lock_and_die, args=(lock_path,))
    child.start()
    child.join()
    assert lock_path.exists()
    started = time.monotonic()
    assert refs.compare_and_set("flows/p/f", Digest.of(b"1"), None)
    assert time.monotonic() - started < 2.0
    assert _files(tmp_path / "refs") == [".flowpack-lock-breaker", "flows/p/f"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_lock_of_a_reused_pid_is_stale(tmp_path: Path) -> None:
    owner = dataclasses.replace(LockOwner.current(), start="1")  # our pid, another start time
    _plant_lock(_lock_path(tmp_path, "r"), owner.encode())
    assert LocalRefStore(tmp_path, lock_timeout=1.0).compare_and_set("r", Digest.of(b"1"), None)


def test_old_lock_from_another_host_is_broken(tmp_path: Path) -> None:
    owner = dataclasses.replace(LockOwner.current(), host="elsewhere", time=time.time() - 3600)
    _plant_lock(_lock_path(tmp_path, "r"), owner.encode(), age=3600)
    refs = LocalRefStore(tmp_path, lock_timeout=1.0, stale_after=600)
    assert refs.compare_and_set("r", Digest.of(b"1"), None)


def test_recent_lock_from_another_host_is_kept(tmp_path: Path) -> None:
    owner = dataclasses.replace(LockOwner.current(), host="elsewhere", pid=1)
    _plant_lock(_lock_path(tmp_path, "r"), owner.encode())
    refs = LocalRefStore(tmp_path, lock_timeout=0.2, stale_after=600)
    with pytest.raises(TransientBackendError, match="pid 1 on elsewhere"):
        refs.compare_and_set("r", Digest.of(b"1"), None)
    assert _lock_path(tmp_path, "r").exists()


@pytest.mark.parametrize(("age", "broken"), [(0, False), (3600, True)])
def test_unreadable_lock_is_broken_only_when_old(tmp_path: Path, age: float, broken: bool) -> None:
    _plant_lock(_lock_path(tmp_path, "r"), b"", age=age)  # a writer died before filling it in
    refs = LocalRefStore(tmp_path, lock_timeout=0.2, stale_after=600)
    if broken:
        assert refs.compare_and_set("r", Digest.of(b"1"), None)
    else:
        with pytest.raises(TransientBackendError):
            refs.compare_and_set("r", Digest.of(b"1"), None)


def _cas_worker(root: Path, token: str | None, barrier: Any, queue: Any, i: int) -> None:
    refs = LocalRefStore(root)
    barrier.wait()
    queue.put((i, refs.compare_and_set("race/mp", Digest.of(f"process {i}".encode()), token)))


@needs_fork
@pytest.mark.parametrize("stale_lock", [False, True], ids=["clean", "stale-lock"])
def test_compare_and_set_race_between_processes(tmp_path: Path, stale_lock: bool) -> None:
    n = 8
    refs = LocalRefStore(tmp_path)
    assert refs.compare_and_set("race/mp", Digest.of(b"start"), None)
    found = refs.read("race/mp")
    assert found is not None
    if stale_lock:  # every process must try to break it; only one may win the ref
        ctx = multiprocessing.get_context("fork")
        child = ctx.Process(target=_hold_lock_and_die, args=(_lock_path(tmp_path, "race/mp"),))
        child.start()
        child.join()
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_cas_worker, args=(tmp_path, found[1], barrier, queue, i))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=60) for _ in range(n))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    winners = [i for i, won in results.items() if won]
    assert len(winners) == 1, results
    assert refs.read("race/mp") is not None
    assert refs.read("race/mp")[0] == Digest.of(f"process {winners[0]}".encode())  # type: ignore[index]
    assert not _lock_path(tmp_path, "race/mp").exists()


def test_lock_file_creates_its_directory(tmp_path: Path) -> None:
    with LockFile(tmp_path / "a" / "b" / "x.lock") as lock:
        assert lock.still_held()
        assert LockOwner.decode(lock.path.read_bytes()) is not None
    assert not (tmp_path / "a" / "b" / "x.lock").exists()


# -- URLs ----------------------------------------------------------------------------------


def test_urls_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert path_from_url(f"file://{tmp_path}") == tmp_path
    assert path_from_url(f"file://localhost{tmp_path}") == tmp_path
    assert path_from_url("file:///a%20b/c") == Path("/a b/c")
    assert path_from_url(str(tmp_path)) == tmp_path
    monkeypatch.chdir(tmp_path)
    assert path_from_url("rel/store") == tmp_path / "rel" / "store"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert path_from_url("~/store") == tmp_path / "store"


@pytest.mark.parametrize("url", ["file://server/share", "s3://bucket", "file:///x?q=1", ""])
def test_bad_urls(url: str) -> None:
    with pytest.raises(UsageError):
        open_local(url)


def test_open_local_shares_one_directory(tmp_path: Path) -> None:
    location = open_local(f"file://{tmp_path}")
    blobs, refs = location.blobs, location.refs
    blobs.put("config", b"c")
    assert LocalBlobStore(tmp_path).get("config") == b"c"
    assert refs.compare_and_set("tags/t", Digest.of(b"c"), None)
    assert LocalRefStore(tmp_path).read("tags/t") is not None


def test_a_lock_appears_with_its_owner_record_in_one_step(tmp_path: Path) -> None:
    """A process killed while taking a lock never leaves an empty lock file behind: the record
    is written to a private temp file first, which blocks nothing if it is left over."""
    refs = LocalRefStore(tmp_path)
    (tmp_path / "refs" / "flows").mkdir(parents=True)
    (tmp_path / "refs" / "flows" / ".x.lock.4242.deadbeef").write_bytes(b"")  # a killed taker
    assert refs.compare_and_set("flows/x", Digest.of(b"1"), None)
    assert not (tmp_path / "refs" / "flows" / "x.lock").exists()
    assert [name for name, _ in refs.iter_refs()] == ["flows/x"]


def test_a_range_read_returns_what_the_file_holds_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame is read with pread, which may return fewer bytes than asked: the read goes on
    until the range or the file ends (a truncated pack then shows as a short read)."""
    blobs = LocalBlobStore(tmp_path)
    blobs.put("packs/" + "ab" * 32, bytes(range(100)))
    real = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, off: real(fd, min(n, 7), off))
    key = "packs/" + "ab" * 32
    assert blobs.get(key, 10, 30) == bytes(range(10, 40))
    assert blobs.get(key, 90, 20) == bytes(range(90, 100))
    assert blobs.get(key, 200, 10) == b""
    with pytest.raises(NotFound):
        blobs.get("packs/" + "cd" * 32, 0, 10)
