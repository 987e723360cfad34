"""Hostile stores and export files: refused with one clear error, nothing written anywhere.

Manifests are written by hand (msgpack, bypassing ManifestBuilder) and stored as MANIFEST
records through the core's Writer into a real ``file://`` store; bombs are planted as packs
with hand-made frames.  Every refusal must leave DEST and its parent directory exactly as
they were.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3
import msgpack
import pytest
from hostile import (
    craft_export,
    file_row,
    lying_frame,
    plant_frame,
    raw_manifest,
    rle_bomb,
    snapshot,
    store_bundle,
)

from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    CorruptObject,
    FlowpackError,
    IntegrityError,
    MalformedData,
    NotFound,
    UnsafePath,
)
from flowpack.cas.manifest import FORMAT, MODE_FILE, MODE_SYMLINK
from flowpack.cas.opening import open_store
from flowpack.cas.pack import DATA, MANIFEST
from flowpack.cas.restore import restore_tree
from flowpack.cas.store import Store
from flowpack.cas.transfer import import_bundle
from flowpack.cas.verify import verify

GOOD = b"print('a harmless file')\n"
OTHER = b"x = 1\n" * 50


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    yield s
    s.close()


def link(path: str, target: bytes) -> tuple[list[Any], bytes]:
    return file_row(path, target, MODE_SYMLINK), target


def plain(path: str, content: bytes = GOOD) -> tuple[list[Any], bytes]:
    return file_row(path, content), content


def bundle(*entries: tuple[list[Any], bytes]) -> tuple[bytes, list[bytes]]:
    """Manifest bytes (rows sorted by path, as canonical order wants) and file contents."""
    rows = sorted((row for row, _ in entries), key=lambda r: r[0])
    return raw_manifest(rows), [content for _, content in entries]


HOSTILE = {
    "dot-dot": (bundle(plain("ok.txt"), plain("../evil")), UnsafePath),
    "dot-dot inside": (bundle(plain("a/../../evil")), UnsafePath),
    "absolute": (bundle(plain("ok.txt"), plain("/tmp/flowpack-evil")), UnsafePath),
    "duplicate": (bundle(plain("a.py"), plain("a.py", OTHER)), UnsafePath),
    "under a file": (bundle(plain("a"), plain("a/b")), UnsafePath),
    "under a symlink": (bundle(link("lib", b"../../etc"), plain("lib/passwd")), UnsafePath),
    "symlink up and out": (bundle(plain("a.txt"), link("evil", b"../../etc")), UnsafePath),
    "symlink absolute": (bundle(plain("a.txt"), link("evil", b"/etc/passwd")), UnsafePath),
    "symlink nested out": (bundle(link("pkg/sub/evil", b"../../../etc")), UnsafePath),
    "symlink through a symlink": (
        bundle(link("b", b"."), link("evil", b"b/b/../..")),
        UnsafePath,
    ),
    "symlink to dest's parent via a link": (
        bundle(link("b", b"."), link("c", b"b/..")),
        UnsafePath,
    ),
    "symlink empty": (bundle(plain("a.txt"), link("evil", b"")), UnsafePath),
    "symlink not utf-8": (bundle(link("evil", b"\xff\xfe/etc")), MalformedData),
}


@pytest.mark.parametrize("dest_state", ["absent", "empty", "occupied"])
@pytest.mark.parametrize(("case", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_manifest_is_refused_and_nothing_is_written(
    store: Store,
    arena: Path,
    tmp_path: Path,
    case: tuple[bytes, list[bytes]],
    expected: type[Exception],
    dest_state: str,
) -> None:
    manifest, contents = case
    digest = store_bundle(store, manifest, contents)
    dest = arena / "dest"
    if dest_state != "absent":
        dest.mkdir()
    if dest_state == "occupied":
        (dest / "mine.txt").write_text("mine\n")
    before = snapshot(tmp_path / "arena"), snapshot(tmp_path / "etc")
    with pytest.raises(expected) as info:
        restore_tree(store, digest, dest, force=True)
    assert "\n" not in str(info.value) and str(info.value)
    assert (snapshot(tmp_path / "arena"), snapshot(tmp_path / "etc")) == before


def test_the_same_bundles_made_safe_restore(store: Store, arena: Path) -> None:
    """Control: links that stay inside, and '..' that only climbs, are restored as links."""
    manifest, contents = bundle(
        plain("pkg/a.py"),
        link("pkg/sub/up", b"../a.py"),
        link("pkg/here", b"./a.py"),
        link("top", b"pkg/sub"),
        link("b", b"."),
    )
    digest = store_bundle(store, manifest, contents)
    restore_tree(store, digest, arena / "dest")
    assert (arena / "dest" / "pkg" / "sub" / "up").read_bytes() == GOOD
    assert (arena / "dest" / "top").readlink() == Path("pkg/sub")
    assert (arena / "dest" / "b" / "pkg" / "a.py").read_bytes() == GOOD


def test_a_file_that_does_not_match_its_digest(store: Store, arena: Path) -> None:
    a, b = b"first half ", b"second half"
    wrong = blake3.blake3(b"something else!!!!!!!").digest()
    row = ["f.txt", MODE_FILE, len(a + b), wrong, [[blake3.blake3(c).digest(), 11] for c in (a, b)]]
    digest = store_bundle(store, raw_manifest([file_row("a.txt", GOOD), row]), [GOOD, a, b])
    before = snapshot(arena)
    with pytest.raises(CorruptObject, match=r"f\.txt"):
        restore_tree(store, digest, arena / "dest")
    assert snapshot(arena) == before


def test_a_file_whose_chunks_are_missing(store: Store, arena: Path) -> None:
    size = 1 << 40  # claims a terabyte: must fail on the missing chunk, not allocate
    chunks = [[bytes([i]) * 32, size // 2] for i in (1, 2)]
    row = ["big.bin", MODE_FILE, size, b"\x07" * 32, chunks]
    digest = store_bundle(store, raw_manifest([file_row("a.txt", GOOD), row]), [GOOD])
    with pytest.raises(NotFound):
        restore_tree(store, digest, arena / "dest")
    assert not (arena / "dest").exists()


BOMBS = {
    "lies about its size": rle_bomb(4 << 30, content_size=len(OTHER)),
    "no size": rle_bomb(4 << 30),
    "claims a huge size": rle_bomb(4 << 30, content_size=4 << 30),
}


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
def test_a_zstd_bomb_in_a_data_frame(store: Store, arena: Path, bomb: bytes) -> None:
    pack = plant_frame(store, *lying_frame(DATA, OTHER, bomb))
    # A bundle whose file dedups against the bomb: the writer trusts the index.
    digest = store_bundle(store, raw_manifest([file_row("a.txt", GOOD), file_row("b.txt", OTHER)]))
    store_bundle(store, raw_manifest([]), [GOOD])
    before = snapshot(arena)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptObject) as info:
            restore_tree(store, digest, arena / "dest")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pack.hex in str(info.value) and "\n" not in str(info.value)
    assert peak < 32 << 20, f"pulling a bomb allocated {peak} bytes"
    assert snapshot(arena) == before
    report = verify(store, read_data=True)
    assert not report.ok
    assert any(pack.hex in p.object or pack.hex in p.message for p in report.problems)


def test_a_zstd_bomb_as_a_manifest(store: Store, arena: Path) -> None:
    manifest = raw_manifest([file_row("a.txt", GOOD)])
    bomb = rle_bomb(4 << 30)
    plant_frame(store, *lying_frame(MANIFEST, manifest, bomb))
    with pytest.raises(CorruptObject):
        restore_tree(store, Digest.of(manifest), arena / "dest")
    assert not (arena / "dest").exists()


# -- export files ---------------------------------------------------------------------------


def import_refused(store: Store, tmp_path: Path, data: bytes) -> FlowpackError:
    src = tmp_path / "bundle.fpk"
    src.write_bytes(data)
    before = snapshot(tmp_path / "store")
    with pytest.raises((IntegrityError, UnsafePath)) as info:
        import_bundle(store, src)
    assert "\n" not in str(info.value)
    assert snapshot(tmp_path / "store") == before, "a refused import must store nothing"
    return info.value


EXPORTS = {
    "dot-dot": bundle(plain("ok.txt"), plain("../evil")),
    "absolute": bundle(plain("/etc/cron.d/evil")),
    "duplicate": bundle(plain("a.py"), plain("a.py", OTHER)),
    "under a file": bundle(plain("a"), plain("a/b")),
    "keys out of order": (
        msgpack.packb(
            {
                "format": FORMAT,
                "files": [file_row("a", GOOD)],
                "kind": "bundle",
                "links": [],
                "meta": {},
            }
        ),
        [GOOD],
    ),
}


@pytest.mark.parametrize("case", EXPORTS.values(), ids=EXPORTS.keys())
def test_hostile_export_is_refused(
    store: Store, tmp_path: Path, case: tuple[bytes, list[bytes]]
) -> None:
    manifest, contents = case
    import_refused(store, tmp_path, craft_export(manifest, chunks=[c for c in contents if c]))


def test_export_with_a_bomb_frame_is_refused(store: Store, tmp_path: Path) -> None:
    bomb = rle_bomb(4 << 30)
    manifest = raw_manifest([file_row("b.txt", OTHER)])
    data = craft_export(manifest, extra_frames=[lying_frame(DATA, OTHER, bomb)])
    tracemalloc.start()
    try:
        import_refused(store, tmp_path, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20


def test_export_missing_what_its_bundle_needs_is_refused(store: Store, tmp_path: Path) -> None:
    manifest = raw_manifest([file_row("a.txt", GOOD), file_row("b.txt", OTHER)])
    import_refused(store, tmp_path, craft_export(manifest, chunks=[GOOD]))


def test_export_with_a_damaged_record_is_refused(store: Store, tmp_path: Path) -> None:
    manifest = raw_manifest([file_row("a.txt", GOOD)])
    data = bytearray(craft_export(manifest, chunks=[GOOD]))
    at = bytes(data).index(b"harmless")
    data[at] ^= 0x20
    import_refused(store, tmp_path, bytes(data))


@pytest.mark.parametrize("target", [b"../../etc", b"/etc/passwd", b"../../etc/passwd"])
def test_export_with_an_escaping_symlink_never_lands_outside(
    store: Store, tmp_path: Path, arena: Path, target: bytes
) -> None:
    """The link is content, so the import may keep it; the pull must refuse it."""
    manifest, contents = bundle(plain("a.txt"), link("evil", target))
    src = tmp_path / "evil.fpk"
    src.write_bytes(craft_export(manifest, chunks=contents))
    digest = import_bundle(store, src)
    assert digest == Digest.of(manifest)
    before = snapshot(tmp_path / "arena"), snapshot(tmp_path / "etc")
    with pytest.raises(UnsafePath, match="evil"):
        restore_tree(store, digest, arena / "dest")
    assert (snapshot(tmp_path / "arena"), snapshot(tmp_path / "etc")) == before
