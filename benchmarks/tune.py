"""Trying the core's tuning constants on a corpus, in-process, without editing ``src/``.

Ingests every version of one corpus into a fresh store with ``put_tree(dir, parent=previous)``
(what ``flowpack push --ref`` does), with the chosen constants overridden for this process only,
then prints stored bytes, what the last version added, where the bytes went (payload against
metadata), the CPU and wall time of the ingest, and the time to read the last version back.

Usage: python benchmarks/tune.py CORPUS [--level N] [--frame KIB] [--avg KIB] [--depth N]
                                        [--bases overlap|file] [--max-bases N] [--workers N]
Example: python benchmarks/tune.py requests --level 19 --bases file
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from dissect import dissect
from measure import tree_bytes

import flowpack.cas.bases as bases_mod
import flowpack.cas.writer as writer_mod
from flowpack.cas.chunker import ChunkerParams
from flowpack.cas.digest import Digest
from flowpack.cas.manifest import FileEntry
from flowpack.cas.opening import open_store
from flowpack.cas.restore import restore_tree

HERE = Path(__file__).resolve().parent


def whole_file(base: FileEntry, off: int, n: int) -> list[Digest]:
    """Every chunk of the previous version of the file, nearest to ``off`` first."""
    pos, spans = 0, []
    for c in base.chunks:
        spans.append((abs(pos - off), c))
        pos += c.size
    ordered = [c for _, c in sorted(spans, key=lambda s: s[0])]
    return ordered[: bases_mod.MAX_BASES_PER_CHUNK]


def configure(args: argparse.Namespace) -> None:
    if args.frame:
        kw = writer_mod.Writer.__init__.__kwdefaults__
        assert kw is not None
        kw["frame_target"] = args.frame << 10
    if args.depth:
        for mod in (bases_mod, writer_mod):
            mod.MAX_DEPTH = args.depth  # type: ignore[attr-defined]
        bases_mod.SKIP_DEPTH = args.depth // 2
        bases_mod.MAX_WALK = 2 * args.depth
    if args.max_bases:
        bases_mod.MAX_BASES_PER_CHUNK = args.max_bases
    if args.bases == "file":
        bases_mod.overlap = whole_file


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus")
    p.add_argument("--level", type=int, default=9)
    p.add_argument("--frame", type=int, default=0, help="frame target in KiB")
    p.add_argument("--avg", type=int, default=0, help="chunk average in KiB (min avg/4, max 4avg)")
    p.add_argument("--depth", type=int, default=0, help="MAX_DEPTH")
    p.add_argument("--bases", choices=("overlap", "file"), default="overlap")
    p.add_argument("--max-bases", type=int, default=0)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("-v", "--verbose", action="store_true", help="bytes each version added")
    p.add_argument("--corpus-dir", type=Path, default=HERE / "work" / "corpus")
    args = p.parse_args()
    configure(args)
    chunker = None
    if args.avg:
        a = args.avg << 10
        chunker = ChunkerParams(avg_size=a, min_size=a // 4, max_size=a * 4)
    versions = sorted(d for d in (args.corpus_dir / args.corpus).iterdir() if d.is_dir())
    root = Path(tempfile.mkdtemp(prefix="flowpack-tune-"))
    try:
        kw = {"level": args.level, "chunker": chunker, "cache_dir": root / "cache"}
        if args.workers:
            kw["workers"] = args.workers
        store = open_store(str(root / "store"), **kw)
        parent = None
        c0, w0 = cpu(), time.perf_counter()
        before = 0
        added: list[int] = []
        for i, v in enumerate(versions):
            if i == len(versions) - 1:
                before = tree_bytes(root / "store")
            result = store.put_tree(v, parent=parent)
            parent = result.digest
            added.append(result.bytes_uploaded)
        c1, w1 = cpu(), time.perf_counter()
        stored = tree_bytes(root / "store")
        assert parent is not None
        store.close()  # a new process reads it back: no cache carried over from the ingest
        fresh = open_store(str(root / "store"), cache_dir=root / "cache")
        t0 = time.perf_counter()
        restore_tree(fresh, parent, root / "out")
        t_restore = time.perf_counter() - t0
        parts = dissect(root / "store", last=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    payload = sum(v for k, v in parts.items() if k.startswith("payload"))
    headers = sum(v for k, v in parts.items() if k.startswith("frame headers"))
    trailers = parts["pack trailer"] + parts["pack magic + trailer"]
    meta = headers + trailers + parts["index files"]
    print(
        f"{args.corpus} level={args.level} frame={args.frame or 'default'} "
        f"avg={args.avg or 'default'} depth={args.depth or 'default'} bases={args.bases} "
        f"max_bases={args.max_bases or 4}: "
        f"stored {stored:,} (payload {payload:,}, metadata {meta:,}), last adds "
        f"{stored - before:,}, ingest cpu {c1 - c0:.2f} s wall {w1 - w0:.2f} s, "
        f"read last {t_restore * 1000:.0f} ms"
    )
    if args.verbose:
        print("  added per version:", " ".join(f"{a:,}" for a in added))
    print(
        f"  metadata: frame headers {headers:,}, pack trailers {trailers:,}, index files "
        f"{parts['index files']:,}; {parts['records data'] + parts['records manifest']:,} "
        f"records in {parts['frames']:,} frames"
    )
    later = added[1:]
    print(f"  re-registrations (versions 2..{len(added)}): {sum(later):,} bytes in all")


if __name__ == "__main__":
    main()
