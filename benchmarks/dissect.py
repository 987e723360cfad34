"""Where a flowpack store's bytes go: payloads by frame kind, frame headers, trailers, indexes.

Usage: python benchmarks/dissect.py STORE_DIR [--last]
  STORE_DIR  a ``file://`` store (for example benchmarks/work/runs/requests/flowpack/store)
  --last     only the newest index file and the packs it lists (what the last push added)
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from flowpack.cas import codec
from flowpack.cas.index import IndexFile
from flowpack.cas.pack import MAGIC, TRAILER, U32, FrameHeader

KINDS = {0: "data", 1: "manifest", 2: "object"}


def dissect(store: Path, last: bool) -> Counter[str]:
    indexes = sorted((store / "index").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    if last:
        indexes = indexes[-1:]
    out: Counter[str] = Counter()
    packs: set[str] = set()
    for path in indexes:
        out["index files"] += path.stat().st_size
        for entry in IndexFile.decode(path.read_bytes()).packs:
            packs.add(entry.pack.hex)
    for name in sorted(packs):
        data = (store / "packs" / name).read_bytes()
        out["packs"] += 1
        out["pack magic + trailer"] += len(MAGIC) + TRAILER.size
        (trailer_len, _) = TRAILER.unpack(data[-TRAILER.size :])
        out["pack trailer"] += trailer_len
        pos = len(MAGIC)
        end = len(data) - TRAILER.size - trailer_len
        while pos < end:
            (hlen,) = U32.unpack_from(data, pos)
            header = FrameHeader.decode(data[pos + U32.size : pos + U32.size + hlen])
            kind = KINDS.get(header.kind, str(header.kind))
            dict_note = "+dict" if header.codec == codec.ZSTD_DICT else ""
            out["frames"] += 1
            out[f"frame headers ({kind})"] += U32.size + hlen
            out[f"payload {kind} {codec_name(header.codec)}{dict_note}"] += header.stored_size
            out[f"raw {kind}"] += header.raw_size
            out[f"records {kind}"] += len(header.sizes)
            out[f"depth {header.depth} frames"] += 1
            pos += U32.size + hlen + header.stored_size
    return out


def codec_name(c: int) -> str:
    return {codec.RAW: "raw", codec.ZSTD: "zstd", codec.ZSTD_DICT: "zstd"}.get(c, str(c))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("store", type=Path)
    p.add_argument("--last", action="store_true")
    args = p.parse_args()
    counts = dissect(args.store, args.last)
    stored = sum(v for k, v in counts.items() if k.startswith(("payload", "frame headers")))
    stored += counts["pack magic + trailer"] + counts["pack trailer"] + counts["index files"]
    for key in sorted(counts):
        print(f"{key:40} {counts[key]:>12,}")
    print(f"{'stored (packs + index files)':40} {stored:>12,}")


if __name__ == "__main__":
    main()
