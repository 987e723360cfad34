"""Bad input to a push is refused by name, never skipped or stored as something else: an
unreadable directory, /dev/null, a FIFO, a file name that is not UTF-8, metadata nested
without end (regressions: each was exit 0 with data left out, or an internal error)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowpack.cas.errors import MalformedData, UsageError
from flowpack.cas.manifest import MAX_DEPTH, ManifestBuilder, decode_manifest
from flowpack.cas.tree import scan_tree
from flowpack.cli.main import cli


def push(path: Path | str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--store", "memory://", "push", str(path)])
    return result.exit_code, result.output


def test_dev_null_is_refused_not_stored_as_an_empty_bundle() -> None:
    code, out = push("/dev/null")
    assert code == 2 and "/dev/null is a character device" in out


def test_a_fifo_is_refused_alone_and_inside_a_tree(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    os.mkfifo(tmp_path / "pipe")
    for target in (tmp_path / "pipe", tmp_path):
        code, out = push(target)
        assert code == 2 and "pipe is a FIFO" in out, out


def test_an_unreadable_directory_fails_the_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mode-000 directory (root reads it anyway, so the refusal is injected at the listing)."""
    (tmp_path / "ok.txt").write_text("ok")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "secret.txt").write_text("s")
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str] = ".") -> object:
        if Path(os.fsdecode(path)) == locked:
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(UsageError, match=r"cannot read directory .*locked: Permission denied"):
        scan_tree(tmp_path)


def test_a_name_that_is_not_utf8_is_named_in_a_clear_error(tmp_path: Path) -> None:
    root = os.fsencode(tmp_path)
    with open(os.path.join(root, b"bad\xff.txt"), "wb") as fh:
        fh.write(b"x")
    code, out = push(tmp_path)
    assert code == 2 and "not valid UTF-8" in out and "bad\\xff.txt" in out
    assert "internal error" not in out


def test_metadata_nested_without_end_is_malformed_not_a_recursion_error() -> None:
    deep: object = "leaf"
    for _ in range(600):
        deep = {"k": deep}
    builder = ManifestBuilder()
    builder.metadata["deep"] = deep
    with pytest.raises(MalformedData, match=f"deeper than {MAX_DEPTH}"):
        builder.build().encode()


def test_a_hostile_manifest_nested_deep_is_malformed() -> None:
    import msgpack

    deep: object = 1
    for _ in range(200):
        deep = [deep]
    doc = {
        "files": [],
        "format": "flowpack.bundle.v1",
        "kind": "bundle",
        "links": [],
        "meta": {"x": deep},
    }
    with pytest.raises(MalformedData, match="deeper than"):
        decode_manifest(msgpack.packb(doc, use_bin_type=True))
