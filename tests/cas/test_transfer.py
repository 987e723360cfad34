"""export / import / copy: whole bundles move between stores, verified, and only once."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zstandard
from hostile import repack
from wholestore import blob_keys, file_store, push, random_bytes, read_tree, text_bytes

from flowpack.cas import transfer
from flowpack.cas.digest import Digest
from flowpack.cas.errors import IntegrityError, NotFound
from flowpack.cas.frames import FrameEntry
from flowpack.cas.manifest import FORMAT, Manifest
from flowpack.cas.opening import open_store
from flowpack.cas.pack import (
    DATA,
    MANIFEST,
    TRAILER_MAGIC,
    TRAILER_V1,
    Frame,
    FrameHeader,
    PackBuilder,
    encode_frame,
    split_frame,
)
from flowpack.cas.restore import restore_tree
from flowpack.cas.stats import store_stats
from flowpack.cas.store import Store
from flowpack.cas.transfer import EXPORT_KIND, ExportFile, export_bundle, import_bundle
from flowpack.cas.verify import verify

FILES = {
    "flow.py": text_bytes(8000, 1),
    "pkg/data.bin": random_bytes(150_000, 2),
    "pkg/empty": b"",
}


def memory() -> Store:
    return open_store("memory://", cache_dir=None)


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Digest]:
    store = file_store(tmp_path / "src")
    digest = push(store, FILES).digest
    out = tmp_path / "bundle.fpack"
    written = export_bundle(store, digest, out)
    assert written == out.stat().st_size
    return out, digest


def test_export_then_import_gives_the_same_bundle(
    exported: tuple[Path, Digest], tmp_path: Path
) -> None:
    out, digest = exported
    dst = file_store(tmp_path / "dst")
    assert import_bundle(dst, out) == digest
    restore_tree(dst, digest, tmp_path / "restored")
    assert read_tree(tmp_path / "restored") == FILES
    assert verify(dst, [digest], read_data=True).ok
    # importing again stores nothing new
    before = blob_keys(dst)
    assert import_bundle(dst, out) == digest
    assert blob_keys(dst) == before


def test_exports_are_written_in_the_first_format_and_both_formats_import(
    exported: tuple[Path, Digest], tmp_path: Path
) -> None:
    """An export lists every record's digest (in its frame headers and trailer), so every
    version of flowpack imports it; one in the later format (sizes only) imports too."""
    out, digest = exported
    data = out.read_bytes()
    assert data.endswith(TRAILER_V1)
    entries = ExportFile(io.BytesIO(data), len(data))
    entries.check()
    for (o, n, _, _), _ in entries.entries:
        assert split_frame(data[o : o + n])[0].listed, "each frame header lists its digests"
    frames = [
        FrameEntry(o, n, k, depth, tuple(Digest.of(b) for _, b in recs))
        for ((o, n, k, depth), _), (_, recs) in zip(entries.entries, entries.frames(), strict=True)
    ]
    later = tmp_path / "later.fpack"
    later.write_bytes(repack(data, frames, first_format=False))
    again = later.read_bytes()
    assert again.endswith(TRAILER_MAGIC) and len(again) < len(data)
    slots = ExportFile(io.BytesIO(again), len(again))._layout()
    assert not any(split_frame(again[o : o + n])[0].listed for (o, n, _, _), _ in slots)
    dst = file_store(tmp_path / "dst")
    assert import_bundle(dst, later) == digest
    restore_tree(dst, digest, tmp_path / "restored")
    assert read_tree(tmp_path / "restored") == FILES


def test_export_includes_records_bundles_and_parents(tmp_path: Path) -> None:
    src = memory()
    bundle = push(src, FILES).digest
    first = src.put_files([], kind="registration", links=[bundle], metadata={"v": 1}).digest
    second = src.put_files([], kind="registration", links=[bundle, first], metadata={"v": 2}).digest
    out = tmp_path / "record.fpack"
    export_bundle(src, second, out)
    dst = memory()
    assert import_bundle(dst, out) == second
    record = dst.get_manifest(second)
    assert record.links == (bundle, first)
    assert dst.get_manifest(first).metadata == {"v": 1}
    assert dst.read_file(bundle, "pkg/data.bin") == FILES["pkg/data.bin"]
    assert verify(dst, [second], read_data=True).ok


def _refused(store: Store, path: Path) -> str:
    with pytest.raises(IntegrityError) as info:
        import_bundle(store, path)
    assert blob_keys(store) == set()  # nothing stored, not even a config
    return str(info.value)


def test_a_damaged_export_is_refused_with_nothing_stored(
    exported: tuple[Path, Digest], tmp_path: Path
) -> None:
    out, _ = exported
    data = out.read_bytes()
    bad = tmp_path / "bad.fpack"
    for pos in (0, 9, 40, len(data) // 2, len(data) - 30, len(data) - 10, len(data) - 1):
        damaged = bytearray(data)
        damaged[pos] ^= 0xFF
        bad.write_bytes(bytes(damaged))
        message = _refused(file_store(tmp_path / f"dst{pos}"), bad)
        assert message.startswith(f"refusing to import {bad}"), message
    for cut in (len(data) - 1, len(data) // 2, 12, 3):
        bad.write_bytes(data[:cut])
        _refused(memory(), bad)
    bad.write_bytes(data + b"\0")
    _refused(memory(), bad)


def _export_of(frames: list[Frame], root: Digest) -> bytes:
    """Hand-build an export: header frame linking ``root``, then ``frames`` as given."""
    head = Manifest(EXPORT_KIND, links=(root,)).encode()
    builder = PackBuilder()
    builder.add(*encode_frame(MANIFEST, [(Digest.of(head), head)]))
    for frame in frames:
        builder.add(*frame)
    return builder.build().data


def _manifest_bytes(path: str, content: bytes) -> bytes:
    """A canonical manifest naming ``path``, written without the builder's checks."""
    doc: dict[str, Any] = {
        "files": [[path, 0o644, len(content), Digest.of(content).raw, []]],
        "format": FORMAT,
        "kind": "bundle",
        "links": [],
        "meta": {},
    }
    out: bytes = msgpack.packb(doc, use_bin_type=True)
    return out


def test_crafted_exports_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "crafted.fpack"
    content = b"pwned\n"
    chunk = (Digest.of(content), content)

    # a manifest escaping the destination with '..'
    evil = _manifest_bytes("../evil.py", content)
    frames = [encode_frame(DATA, [chunk]), encode_frame(MANIFEST, [(Digest.of(evil), evil)])]
    bad.write_bytes(_export_of(frames, Digest.of(evil)))
    assert "unsafe path" in _refused(memory(), bad)

    # a bundle whose chunk is absent
    good = _manifest_bytes("ok.py", content)
    frames = [encode_frame(MANIFEST, [(Digest.of(good), good)])]
    bad.write_bytes(_export_of(frames, Digest.of(good)))
    assert "lacks object" in _refused(memory(), bad)

    # a zstd bomb: a frame whose payload expands far beyond the size its header records
    zeros = bytes(64 << 20)
    bomb = zstandard.ZstdCompressor(write_content_size=False).compress(zeros)
    small = zeros[:1000]
    header = FrameHeader(DATA, 1, len(small), len(bomb), 0, (), (len(small),))
    frames = [
        (header, bomb, (Digest.of(small),)),
        encode_frame(MANIFEST, [(Digest.of(good), good)]),
    ]
    bad.write_bytes(_export_of(frames, Digest.of(good)))
    _refused(memory(), bad)

    # a frame that needs bases the importer does not have
    text = text_bytes(5000, 9)
    delta = encode_frame(DATA, [(Digest.of(text), text)], bases=[Digest.of(text)], dictionary=text)
    frames = [delta, encode_frame(MANIFEST, [(Digest.of(good), good)])]
    assert frames[0][0].bases
    bad.write_bytes(_export_of(frames, Digest.of(good)))
    assert "bases" in _refused(memory(), bad)

    # not an export at all
    bad.write_bytes(b"hello world, this is not a pack file at all")
    _refused(memory(), bad)
    with pytest.raises(NotFound):
        import_bundle(memory(), tmp_path / "absent.fpack")


def test_imports_are_capped(exported: tuple[Path, Digest], monkeypatch: Any) -> None:
    out, _ = exported
    size = out.stat().st_size
    monkeypatch.setattr(transfer, "MAX_IMPORT", size - 1)
    assert "larger than" in _refused(memory(), out)
    # content claimed beyond the cap is refused before anything is decompressed
    monkeypatch.setattr(transfer, "MAX_IMPORT", size + 100)
    assert "claims more than" in _refused(memory(), out)


def test_copy_sends_only_what_the_destination_lacks(tmp_path: Path) -> None:
    src = file_store(tmp_path / "src")
    v1 = push(src, FILES)
    dst = memory()
    first = src.copy_to(dst, [v1.digest])
    assert first.digest == v1.digest and first.files == 3
    assert first.bytes_uploaded > 150_000 and first.packs_uploaded == 1
    assert dst.read_file(v1.digest, "pkg/data.bin") == FILES["pkg/data.bin"]
    again = src.copy_to(dst, [v1.digest])
    assert (again.bytes_uploaded, again.packs_uploaded, again.new_chunks) == (0, 0, 0)

    changed = {**FILES, "flow.py": FILES["flow.py"] + b"# v2\n"}
    v2 = push(src, changed, parent=v1.digest)
    third = src.copy_to(dst, [v1.digest, v2.digest])
    assert third.digest == v2.digest
    assert 0 < third.bytes_uploaded < 20_000
    assert verify(dst, [v1.digest, v2.digest], read_data=True).ok
    restore_tree(dst, v2.digest, tmp_path / "v2")
    assert read_tree(tmp_path / "v2") == changed


def test_copy_follows_links_between_file_and_memory_stores(tmp_path: Path) -> None:
    src = memory()
    bundle = push(src, FILES).digest
    record = src.put_files([], kind="run", links=[bundle], metadata={"status": "ok"}).digest
    dst = file_store(tmp_path / "dst")
    result = src.copy_to(dst, [record])
    assert result.files == 0 and result.new_chunks > 3
    fresh = file_store(tmp_path / "dst")
    assert fresh.get_manifest(record).links == (bundle,)
    assert fresh.read_file(bundle, "flow.py") == FILES["flow.py"]
    assert store_stats(fresh).objects == len(src.index) > 0
