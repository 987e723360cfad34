"""Store.batch is per thread: two threads batching on one store at once keep apart."""

from __future__ import annotations

import threading
from pathlib import Path

from wholestore import file_store, packs_on_disk, push, random_bytes

from flowpack.cas.digest import Digest
from flowpack.cas.verify import verify
from flowpack.cas.writer import WriteStats


def test_two_threads_batch_at_once(tmp_path: Path) -> None:
    store = file_store(tmp_path / "store")
    both_open = threading.Barrier(2, timeout=30)
    pushed_both = threading.Barrier(2, timeout=30)
    results: dict[int, tuple[list[Digest], WriteStats, bool]] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with store.batch() as stats:
                both_open.wait()
                bundle = push(store, {f"t{n}.bin": random_bytes(40_000, n)}).digest
                # a record linking the bundle, written in the same (this thread's) batch
                record = push(store, {}, links=[bundle], metadata={"thread": n}).digest
                pushed_both.wait()
                # nothing is uploaded until this thread's block ends
                seen_inside = stats.packs_uploaded == 0 and store.get_manifest(record).links == (
                    bundle,
                )
            results[n] = ([bundle, record], stats, seen_inside)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            both_open.abort()
            pushed_both.abort()

    threads = [threading.Thread(target=work, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for n in (1, 2):
        digests, stats, seen_inside = results[n]
        assert seen_inside
        # each thread's batch uploaded its own pack(s) and one index file of its own
        assert stats.packs_uploaded >= 1 and len(stats.index_files) == 1
        fresh = file_store(tmp_path / "store")
        assert all(fresh.has(d) for d in digests)
    assert results[1][1].index_files != results[2][1].index_files
    assert verify(file_store(tmp_path / "store"), [d for r in results.values() for d in r[0]]).ok


def test_a_batch_is_invisible_to_other_threads(tmp_path: Path) -> None:
    store = file_store(tmp_path / "store")
    opened = threading.Event()
    release = threading.Event()

    def other() -> None:
        opened.wait(30)
        # another thread's batch is open: this push is its own session, uploaded at once
        push(store, {"other.bin": random_bytes(10_000, 9)})
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with store.batch() as stats:
        push(store, {"mine.bin": random_bytes(10_000, 8)})
        opened.set()
        assert release.wait(30)
        assert stats.packs_uploaded == 0
        # the other thread's push did not join this batch: it is already on disk
        assert len(packs_on_disk(tmp_path / "store")) == 1
    t.join()
    assert stats.packs_uploaded == 1
    assert len(packs_on_disk(tmp_path / "store")) == 2
