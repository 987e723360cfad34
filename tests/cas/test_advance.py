"""advance(): put, then move the ref; a lost race raises or re-links on the winner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowpack.cas.advance import Advanced, advance
from flowpack.cas.digest import Digest
from flowpack.cas.errors import NotFound, RefConflict, UsageError
from flowpack.cas.opening import open_store
from flowpack.cas.protocols import Capabilities, RefStore, Token
from flowpack.cas.registry import open_location
from flowpack.cas.store import Store
from flowpack.cas.tree import SourceFile

REF = "flows/demo/main"


class CountingRefs:
    """A real ref store, with a count of its compare-and-set calls."""

    def __init__(self, inner: RefStore) -> None:
        self.inner = inner
        self.writes = 0

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def read(self, name: str) -> tuple[Digest, Token] | None:
        return self.inner.read(name)

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        return self.inner.iter_refs(prefix)

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        self.writes += 1
        return self.inner.compare_and_set(name, new, expected)

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        return self.inner.compare_and_delete(name, expected)


def file_store(root: Path) -> Store:
    return open_store(f"file://{root}", cache_dir=None)


def record(store: Store, text: str, parent: Digest | None) -> Digest:
    """A small bundle chained on ``parent`` (as registration and run records are)."""
    files = [SourceFile.from_bytes("note.txt", text.encode())]
    links = [parent] if parent is not None else []
    return store.put_files(files, metadata={"text": text}, links=links).digest


def chain(store: Store, head: Digest | None) -> list[str]:
    """The texts along the parent links from ``head``, newest first."""
    out = []
    while head is not None:
        manifest = store.get_manifest(head)
        out.append(manifest.metadata["text"])
        head = manifest.links[0] if manifest.links else None
    return out


def test_first_write_creates_the_ref(tmp_path: Path) -> None:
    store = file_store(tmp_path / "s")
    seen: list[Digest | None] = []

    def write(head: Digest | None) -> Digest:
        seen.append(head)
        return record(store, "one", head)

    done = advance(store, REF, write)
    assert isinstance(done, Advanced)
    assert seen == [None]
    assert (done.head, done.moved, done.tries) == (None, True, 1)
    assert store.refs.get(REF) == done.digest
    assert done.bytes_uploaded > 0 and done.packs_uploaded == 1


def test_one_session_holds_everything_write_stores(tmp_path: Path) -> None:
    store = file_store(tmp_path / "s")

    bundles: list[Digest] = []

    def write(head: Digest | None) -> Digest:
        bundles.append(store.put_files([SourceFile.from_bytes("a.py", b"A = 1\n" * 500)]).digest)
        return record(store, "linked", bundles[-1])

    done = advance(store, REF, write)
    assert done.packs_uploaded == 1  # the bundle and the record share one pack
    assert len(store.index_files) == 1
    assert store.get_manifest(done.digest).links == tuple(bundles)


def test_a_lost_race_raises_naming_the_current_value(tmp_path: Path) -> None:
    store, rival = file_store(tmp_path / "s"), file_store(tmp_path / "s")
    first = advance(store, REF, lambda head: record(store, "base", head)).digest
    stored: list[Digest] = []

    def write(head: Digest | None) -> Digest:
        # Another client moves the ref after we read it and before we set it.
        advance(rival, REF, lambda h: record(rival, "rival", h))
        stored.append(record(store, "mine", head))
        return stored[-1]

    with pytest.raises(RefConflict) as caught:
        advance(store, REF, write)
    winner = rival.refs.get(REF)
    assert winner is not None and winner != first
    assert caught.value.current == winner
    assert str(winner) in str(caught.value) and REF in str(caught.value)
    assert store.refs.get(REF) == winner  # the loser's record is stored but not named
    assert store.has(stored[0])
    assert chain(store, winner) == ["rival", "base"]


def test_retries_rechain_the_write_on_the_winner(tmp_path: Path) -> None:
    store, rival = file_store(tmp_path / "s"), file_store(tmp_path / "s")
    advance(store, REF, lambda head: record(store, "base", head))
    heads: list[Digest | None] = []

    def write(head: Digest | None) -> Digest:
        heads.append(head)
        if len(heads) == 1:
            advance(rival, REF, lambda h: record(rival, "rival", h))
        return record(store, "mine", head)

    done = advance(store, REF, write, retries=3)
    assert done.tries == 2 and done.moved
    assert heads[1] == done.head != heads[0]
    assert chain(store, store.refs.get(REF)) == ["mine", "rival", "base"]


def test_retries_give_up_when_the_ref_keeps_changing(tmp_path: Path) -> None:
    store, rival = file_store(tmp_path / "s"), file_store(tmp_path / "s")
    calls = 0

    def write(head: Digest | None) -> Digest:
        nonlocal calls
        calls += 1
        advance(rival, REF, lambda h: record(rival, f"rival {calls}", h))
        return record(store, f"mine {calls}", head)

    with pytest.raises(RefConflict, match="kept changing; gave up after 3 tries") as caught:
        advance(store, REF, write, retries=2)
    assert calls == 3
    assert caught.value.current == store.refs.get(REF)
    assert chain(store, store.refs.get(REF)) == ["rival 3", "rival 2", "rival 1"]


def test_returning_the_head_leaves_the_ref_unwritten(tmp_path: Path) -> None:
    location = open_location(f"file://{tmp_path / 's'}")
    refs = CountingRefs(location.refs)
    store = Store(location.blobs, refs)
    first = advance(store, REF, lambda head: record(store, "base", head))
    assert refs.writes == 1
    again = advance(store, REF, lambda head: head or record(store, "x", head))
    assert (again.moved, again.head, again.digest) == (False, first.digest, first.digest)
    assert refs.writes == 1
    assert again.bytes_uploaded == 0 and again.packs_uploaded == 0


def test_a_failing_write_stores_nothing_visible_and_keeps_the_ref(tmp_path: Path) -> None:
    store = file_store(tmp_path / "s")
    first = advance(store, REF, lambda head: record(store, "base", head)).digest
    indexes = dict(store.index_files)

    def write(head: Digest | None) -> Digest:
        record(store, "half", head)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        advance(store, REF, write, retries=5)
    assert store.refs.get(REF) == first
    store.sync(force=True)
    assert store.index_files == indexes  # the session was dropped: no index file listed it


def test_without_a_session_write_reports_its_own_upload(tmp_path: Path) -> None:
    src = file_store(tmp_path / "s")
    result = src.put_files([SourceFile.from_bytes("b.txt", b"bee")])
    done = advance(src, "tags/b", lambda head: result.digest, session=False)
    assert done.moved and (done.bytes_uploaded, done.packs_uploaded) == (0, 0)
    assert src.refs.get("tags/b") == result.digest


def test_a_digest_not_stored_is_refused(tmp_path: Path) -> None:
    store = file_store(tmp_path / "s")
    ghost = Digest.of(b"never stored")
    with pytest.raises(NotFound, match="not in the store"):
        advance(store, REF, lambda head: ghost, session=False)
    assert store.refs.get(REF) is None


def test_negative_retries_are_a_usage_error(tmp_path: Path) -> None:
    store = file_store(tmp_path / "s")
    with pytest.raises(UsageError, match="retries"):
        advance(store, REF, lambda head: record(store, "x", head), retries=-1)
