"""The store's ``config`` carries a checksum: a flipped byte anywhere in it is detected and
named (by verify, and by every command that opens the store); configs written before the
checksum existed still load."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest
from wholestore import file_store, push, random_bytes

from flowpack.cas.config import StoreConfig
from flowpack.cas.errors import IntegrityError
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
