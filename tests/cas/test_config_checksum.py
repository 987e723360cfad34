"""The store's ``config`` carries a checksum: a flipped byte anywhere in it is detected and
named (by verify, and by every command that opens the store); configs written before the
checksum existed still load."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest
from wholestore import file_store, push, random_bytes

from flowpack.cas.chunker import ChunkerParams
from flowpack.cas.config import FORMAT, StoreConfig
from flowpack.cas.errors import IncompatibleStore, IntegrityError
from flowpack.cas.verify import verify


def make_store(root: Path) -> bytes:
    store = file_store(root)
    store.set_ref("flows/p/f", push(store, {"f.bin": random_bytes(2000, 1)}).digest)
    return (root / "config").read_bytes()


def test_a_flipped_byte_in_config_is_detected_and_named(tmp_path: Path) -> None:
    root = tmp_path / "store"
    original = make_store(root)
    assert b"sum" in original
    missed = []
    for pos in range(len(original)):
        data = bytearray(original)
        data[pos] ^= 0x01
        (root / "config").chmod(0o644)
        (root / "config").write_bytes(bytes(data))
        report = verify(file_store(root))
        if report.ok or [p.object for p in report.problems] != ["config"]:
            missed.append(pos)
            continue
        with pytest.raises(IntegrityError, match="config"):
            file_store(root).config  # noqa: B018
    (root / "config").write_bytes(original)
    assert missed == []
    assert verify(file_store(root), read_data=True).ok


def test_a_config_written_before_the_checksum_still_loads(tmp_path: Path) -> None:
    root = tmp_path / "store"
    original = make_store(root)
    doc = msgpack.unpackb(original)
    del doc["sum"]
    (root / "config").chmod(0o644)
    (root / "config").write_bytes(msgpack.packb(doc, use_bin_type=True))
    cfg = file_store(root).config
    assert cfg == StoreConfig.decode(original)
    assert verify(file_store(root), read_data=True).ok


def test_a_store_of_a_format_this_version_does_not_know_is_refused_by_name(
    tmp_path: Path,
) -> None:
    """What a version that knows only ``flowpack.store.v1`` does with a v2 store, this one does
    with a later format: a clear refusal naming the format, never a report of damage."""
    root = tmp_path / "store"
    make_store(root)
    assert file_store(root).config.format == FORMAT
    later = StoreConfig("0" * 32, ChunkerParams(), format="flowpack.store.v3")
    (root / "config").chmod(0o644)
    (root / "config").write_bytes(later.encode())
    with pytest.raises(
        IncompatibleStore, match=r"store format flowpack\.store\.v3 .*not supported"
    ):
        file_store(root).config  # noqa: B018
