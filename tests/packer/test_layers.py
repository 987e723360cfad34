"""Image layers: built reproducibly, and read back without trusting them (hostile tars)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from flowpack.cas.errors import MalformedData, UnsafePath, UsageError
from flowpack.packer.layers import LayerBuilder, read_layer_file, unpack_layer


def _tar(*entries: tarfile.TarInfo, data: bytes = b"owned\n") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info in entries:
            if info.isfile():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return gzip.compress(raw.getvalue())


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    return info


HOSTILE = {
    "dotdot": [_file("opt/../../escape.txt")],
    "dotdot-first": [_file("../escape.txt")],
    "absolute": [_file("/etc/passwd")],
    "symlink-escape": [_link("opt/out", "../../.."), _file("opt/out/etc/passwd")],
    "symlink-climb": [_link("opt/out", "../../etc")],
    "hardlink-escape": [_link("opt/hard", "../etc/passwd", tarfile.LNKTYPE)],
    "device": [_device("opt/dev")],
}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layers_are_refused_before_anything_is_written(
    case: str, arena: Path, tmp_path: Path
) -> None:
    layer = _tar(*HOSTILE[case])
    before = _snapshot(tmp_path)
    dest = arena / "root"
    dest.mkdir()
    with pytest.raises(UnsafePath) as info:
        unpack_layer(layer, dest, "sha256:feed")
    message = str(info.value)
    assert "sha256:feed" in message and "\n" not in message
    with pytest.raises(UnsafePath):
        read_layer_file(layer, "/opt/prefect/flows.json", "sha256:feed")
    assert list(dest.iterdir()) == []
    assert _snapshot(tmp_path) == before  # the arena's canary and ../etc/passwd untouched


def test_links_inside_the_image_are_kept(tmp_path: Path) -> None:
    layer = _tar(
        _file("etc/os-release"),
        _link("usr/bin/abs", "/etc/os-release"),
        _link("usr/bin/rel", "../../etc/os-release"),
    )
    root = tmp_path / "root"
    root.mkdir()
    unpack_layer(layer, root)
    assert (root / "usr/bin/abs").read_bytes() == b"owned\n"
    assert (root / "usr/bin/rel").read_bytes() == b"owned\n"
    assert (root / "usr/bin/abs").resolve().is_relative_to(root.resolve())


def test_whiteouts_remove_lower_layers(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    unpack_layer(_tar(_file("etc/a"), _file("etc/b")), root)
    unpack_layer(_tar(_file("etc/.wh.a")), root)
    assert sorted(p.name for p in (root / "etc").iterdir()) == ["b"]


@pytest.mark.parametrize("blob", [b"\x1f\x8bnot gzip at all", b"plain garbage" * 100])
def test_damaged_layers_are_malformed(blob: bytes, tmp_path: Path) -> None:
    with pytest.raises(MalformedData):
        read_layer_file(blob, "/x", "sha256:bad")
    with pytest.raises(MalformedData):
        unpack_layer(blob, tmp_path, "sha256:bad")


def test_layers_are_reproducible() -> None:
    a, b = LayerBuilder(), LayerBuilder()
    files = {"/opt/p/z.txt": b"z", "/opt/p/a/b.txt": b"b", "/etc/c": b"c"}
    for path, data in files.items():
        a.add_file(path, data)
    for path, data in reversed(list(files.items())):
        b.add_file(path, data)
    la, lb = a.build(), b.build()
    assert la.blob == lb.blob and la.digest == lb.digest and la.diff_id == lb.diff_id
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(la.blob))) as tar:
        names = tar.getnames()
    assert (
        names
        == sorted(names)
        == ["etc", "etc/c", "opt", "opt/p", "opt/p/a", "opt/p/a/b.txt", "opt/p/z.txt"]
    )
    assert read_layer_file(la.blob, "/opt/p/a/b.txt") == b"b"


def test_conflicting_files_and_bad_paths_are_refused() -> None:
    builder = LayerBuilder()
    builder.add_file("/x", b"1")
    builder.add_file("/x", b"1")  # the same content twice is fine
    with pytest.raises(UsageError, match="already exists"):
        builder.add_file("/x", b"2")
    for bad in ["relative", "/a/../b", "/"]:
        with pytest.raises(UsageError):
            builder.add_file(bad, b"")
