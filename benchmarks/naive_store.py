"""The naive peer: every version stored whole, as one zstd-compressed pickle under a new key.

This is what a flow store without content addressing does (a cloudpickled flow written under a
timestamped key in a bucket): nothing is shared between versions.

Usage: python naive_store.py put SRC_DIR STORE_DIR NAME    -> writes STORE_DIR/NAME.pkl.zst
       python naive_store.py get STORE_FILE DEST_DIR        -> recreates the tree in DEST_DIR
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import zstandard


def put(src: Path, store: Path, name: str) -> None:
    files: dict[str, tuple[int, bytes]] = {}
    for dirpath, dirnames, names in os.walk(src):
        dirnames.sort()
        for n in sorted(names):
            p = Path(dirpath) / n
            files[p.relative_to(src).as_posix()] = (p.stat().st_mode & 0o777, p.read_bytes())
    store.mkdir(parents=True, exist_ok=True)
    data = zstandard.ZstdCompressor(level=3).compress(pickle.dumps(files, protocol=5))
    (store / f"{name}.pkl.zst").write_bytes(data)


def get(stored: Path, dest: Path) -> None:
    files: dict[str, tuple[int, bytes]] = pickle.loads(
        zstandard.ZstdDecompressor().decompress(stored.read_bytes())
    )
    for rel, (mode, data) in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, mode)


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "put":
        put(Path(argv[1]), Path(argv[2]), argv[3])
    elif len(argv) == 3 and argv[0] == "get":
        get(Path(argv[1]), Path(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
