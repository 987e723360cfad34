"""``verify --all`` never checks less than ``verify``: damage no ref reaches is found too."""

from __future__ import annotations

from pathlib import Path

import pytest
from wholestore import file_store, flipped, push, random_bytes

from flowpack.cas.digest import Digest
from flowpack.cas.verify import verify


@pytest.mark.parametrize("read_data", [True, False])
def test_verify_all_read_data_finds_damage_in_an_unreferenced_pack(
    tmp_path: Path, read_data: bool
) -> None:
    root = tmp_path / "store"
    store = file_store(root)
    store.set_ref("flows/p/kept", push(store, {"kept.bin": random_bytes(3000, 1)}).digest)
    push(store, {"loose.bin": random_bytes(3000, 2)})  # no ref reaches it
    store.sync()
    loose = store.index.get(Digest.of(random_bytes(3000, 2)))
    assert loose is not None
    pack = root / "packs" / loose.pack.hex
    pos = loose.frame_offset + 10 if read_data else pack.stat().st_size - 1
    if not read_data:  # without reading data, a truncated pack is what the layout shows
        data = pack.read_bytes()
        pack.chmod(0o644)
        pack.write_bytes(data[:pos])
        found = verify(file_store(root), all_refs=True)
        plain = verify(file_store(root))
        assert not plain.ok and not found.ok
        assert {p.object for p in found.problems} >= {p.object for p in plain.problems}
        return
    with flipped(pack, pos):
        plain = verify(file_store(root), read_data=True)
        found = verify(file_store(root), all_refs=True, read_data=True)
        assert not plain.ok
        assert not found.ok, "verify --all --read-data missed damage that verify --read-data found"
        assert {p.object for p in found.problems} >= {p.object for p in plain.problems}
        assert found.checked["read_packs"] >= plain.checked["read_packs"] == 2
