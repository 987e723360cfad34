"""The core obeys the capabilities a location declares (see flowpack.cas.guards).

The memory adapter is wrapped to declare what it lacks and to record every request made to it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from wholestore import push, random_bytes, text_bytes

from flowpack.cas.copying import copy_objects
from flowpack.cas.digest import Digest
from flowpack.cas.errors import CapabilityError, RefConflict
from flowpack.cas.gc import collect
from flowpack.cas.protocols import BlobInfo, BlobStore, Capabilities, RefStore, Token
from flowpack.cas.registry import open_location
from flowpack.cas.stats import store_stats
from flowpack.cas.store import Store
from flowpack.cas.transfer import export_bundle, import_bundle
from flowpack.cas.verify import verify

FILES = {"flow.py": text_bytes(3000, 1), "data.bin": random_bytes(900_000, 2)}


class DeclaredBlobs:
    """A blob store that declares ``caps`` and records each request as (method, key, ...)."""

    def __init__(self, inner: BlobStore, caps: Capabilities) -> None:
        self.inner = inner
        self.caps = caps
        self.requests: list[tuple[object, ...]] = []

    @property
    def capabilities(self) -> Capabilities:
        return self.caps

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> None:
        self.requests.append(("put", key))
        self.inner.put(key, data, create_only=create_only)

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        self.requests.append(("get", key, offset, length))
        return self.inner.get(key, offset, length)

    def stat(self, key: str) -> BlobInfo:
        self.requests.append(("stat", key))
        return self.inner.stat(key)

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        self.requests.append(("iter_keys", prefix))
        return self.inner.iter_keys(prefix)

    def delete(self, key: str) -> None:
        self.requests.append(("delete", key))
        self.inner.delete(key)


class DeclaredRefs:
    """A ref store that declares ``caps``, records requests, and can lose updates.

    With ``interloper`` set, every successful compare-and-set is at once overwritten with that
    digest, as a concurrent writer on a location without atomic compare-and-set could do.
    """

    def __init__(self, inner: RefStore, caps: Capabilities) -> None:
        self.inner = inner
        self.caps = caps
        self.requests: list[tuple[object, ...]] = []
        self.interloper: Digest | None = None

    @property
    def capabilities(self) -> Capabilities:
        return self.caps

    def read(self, name: str) -> tuple[Digest, Token] | None:
        self.requests.append(("read", name))
        return self.inner.read(name)

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        self.requests.append(("iter_refs", prefix))
        return self.inner.iter_refs(prefix)

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        self.requests.append(("compare_and_set", name))
        done = self.inner.compare_and_set(name, new, expected)
        if done and self.interloper is not None:
            cur = self.inner.read(name)
            assert cur is not None
            self.inner.compare_and_set(name, self.interloper, cur[1])
        return done

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        self.requests.append(("compare_and_delete", name))
        return self.inner.compare_and_delete(name, expected)


def declared(name: str, **caps: bool) -> tuple[Store, DeclaredBlobs, DeclaredRefs]:
    """A store on ``memory://name`` whose adapters declare ``caps`` over the memory defaults."""
    location = open_location(f"memory://{name}")
    capabilities = dataclasses.replace(location.capabilities, **caps)
    blobs = DeclaredBlobs(location.blobs, capabilities)
    refs = DeclaredRefs(location.refs, capabilities)
    return Store(blobs, refs, url=f"memory://{name}"), blobs, refs


def unique(tmp_path: Path) -> str:
    return tmp_path.name.replace("_", "-")


# -- atomic_cas ----------------------------------------------------------------------------


def test_without_atomic_cas_updates_are_read_back_and_a_warning_given_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, _, refs = declared(unique(tmp_path), atomic_cas=False)
    one = push(store, {"a.py": b"one"}).digest
    two = push(store, {"a.py": b"two"}).digest
    with caplog.at_level(logging.WARNING, logger="flowpack"):
        store.set_ref("flows/p/f", one, create=True)
        refs.requests.clear()
        store.set_ref("flows/p/f", two, expected=one)
        assert store.refs.compare_and_set("flows/p/f", one, two)
    # each write is followed by a read of the same ref
    writes = [i for i, r in enumerate(refs.requests) if r[0] == "compare_and_set"]
    assert writes and all(refs.requests[i + 1] == ("read", "flows/p/f") for i in writes)
    warnings = [r for r in caplog.records if "no atomic compare-and-set" in r.getMessage()]
    assert len(warnings) == 1 and f"memory://{unique(tmp_path)}" in warnings[0].getMessage()
    assert store.refs.get("flows/p/f") == one


def test_without_atomic_cas_a_lost_update_raises_naming_the_current_value(
    tmp_path: Path,
) -> None:
    store, _, refs = declared(unique(tmp_path), atomic_cas=False)
    mine = push(store, {"a.py": b"mine"}).digest
    theirs = push(store, {"a.py": b"theirs"}).digest
    refs.interloper = theirs
    with pytest.raises(RefConflict, match=str(theirs)) as info:
        store.set_ref("flows/p/f", mine)
    assert info.value.exit_code == 3 and "no atomic compare-and-set" in str(info.value)
    with pytest.raises(RefConflict, match=str(theirs)):
        store.refs.compare_and_set("flows/p/g", mine, None)


def test_with_atomic_cas_no_read_back(tmp_path: Path) -> None:
    store, _, refs = declared(unique(tmp_path))
    d = push(store, {"a.py": b"x"}).digest
    refs.requests.clear()
    store.refs.compare_and_set("flows/p/f", d, None)
    assert refs.requests == [("compare_and_set", "flows/p/f")]


# -- read_only -----------------------------------------------------------------------------


def test_a_read_only_location_refuses_every_write_before_any_request(tmp_path: Path) -> None:
    name = unique(tmp_path)
    writable, _, _ = declared(name)
    digest = push(writable, FILES).digest
    writable.set_ref("flows/p/f", digest)
    export = tmp_path / "flow.fpack"
    export_bundle(writable, digest, export)
    src, src_blobs, _ = declared(name + "-src")
    other = push(src, {"x.py": b"x"}).digest

    store, blobs, refs = declared(name, read_only=True)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_bytes(b"a")
    refusals = {
        "push": lambda: push(store, {"b.py": b"b"}),
        "put_tree": lambda: store.put_tree(tree),
        "batch": lambda: store.batch().__enter__(),
        "set_ref": lambda: store.set_ref("flows/p/g", digest),
        "update": lambda: store.refs.update("flows/p/f", digest),
        "compare_and_set": lambda: store.refs.compare_and_set("flows/p/f", digest, None),
        "delete": lambda: store.refs.delete("flows/p/f"),
        "gc": lambda: collect(store, grace=0),
        "import": lambda: import_bundle(store, export),
        "copy": lambda: copy_objects(src, store, [other]),
    }
    src_blobs.requests.clear()
    for what, attempt in refusals.items():
        with pytest.raises(CapabilityError, match="is read-only: cannot") as info:
            attempt()
        assert "\n" not in str(info.value) and f"memory://{name}" in str(info.value), what
        assert blobs.requests == [] and refs.requests == [], what
    assert src_blobs.requests == []  # the copy was refused before reading its source
    # reading still works, and so does a gc that only reports
    assert store.get_manifest(store.resolve("flows/p/f")).file("flow.py")
    assert verify(store, read_data=True).ok
    assert not collect(store, grace=0, dry_run=True).deleted
    assert not any(r[0] in ("put", "delete") for r in blobs.requests)


# -- range_reads ---------------------------------------------------------------------------


def test_without_range_reads_packs_are_read_whole_once(tmp_path: Path) -> None:
    name = unique(tmp_path)
    writable, _, _ = declared(name)
    v1 = push(writable, FILES).digest
    files2 = {**FILES, "data.bin": FILES["data.bin"][:500_000] + b"changed" * 10}
    v2 = push(writable, files2, parent=v1).digest
    writable.set_ref("flows/p/f", v2)

    store, blobs, _ = declared(name, range_reads=False)
    assert store.read_file(v2, "data.bin") == files2["data.bin"]
    assert store.read_file(v1, "data.bin") == FILES["data.bin"]
    pack_gets = [r for r in blobs.requests if r[0] == "get" and str(r[1]).startswith("packs/")]
    assert pack_gets and all(r[2:] == (0, None) for r in pack_gets)
    assert len(pack_gets) == len({r[1] for r in pack_gets})  # each pack read once
    blobs.requests.clear()
    collect(store, grace=0, dry_run=True)  # reads the headers of delta frames
    assert all(r[2:] == (0, None) for r in blobs.requests if r[0] == "get")

    ranged, ranged_blobs, _ = declared(name)
    assert ranged.read_file(v2, "data.bin") == files2["data.bin"]
    assert any(r[0] == "get" and r[3] is not None for r in ranged_blobs.requests)


# -- listable ------------------------------------------------------------------------------


def test_without_listing_gc_refuses_and_verify_works_from_the_index(tmp_path: Path) -> None:
    store, blobs, refs = declared(unique(tmp_path), listable=False)
    digest = push(store, FILES).digest  # pushes list index/ only
    store.set_ref("flows/p/f", digest)
    blobs.requests.clear()
    refs.requests.clear()
    with pytest.raises(CapabilityError, match="cannot list its blobs: gc needs") as info:
        collect(store, grace=0, dry_run=True)
    assert "\n" not in str(info.value)
    assert blobs.requests == [] and refs.requests == []

    report = verify(store, read_data=True)
    assert report.ok and report.checked["packs"] >= 1
    assert "unindexed_packs" not in report.checked
    assert verify(store, None, all_refs=True).ok
    assert store_stats(store).bundles == 1
    listed = {r[1] for r in blobs.requests if r[0] == "iter_keys"}
    assert "packs/" not in listed and "index/" in listed

    store.blobs.delete(f"packs/{store.indexed_packs()[0].pack.hex}")
    damaged = verify(store)
    assert not damaged.ok and "missing" in damaged.problems[0].message
