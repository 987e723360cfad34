"""Peak RSS of each verb that moves data: push (first and successive versions), pull, copy,
verify --read-data and gc, on corpora of successive versions and on large synthetic data.

Each command is one CLI process under GNU time (``measure.Meter``).  For a corpus (a folder of
version folders, as ``make_corpus.sh`` and ``jsoncorpus.py`` write them), into a fresh file
store: push the first version, push every later one to the same ref (the largest peak is
"push next"), pull the last, copy the store to a second file store, ``verify --read-data``,
then ``gc --grace 0 --force`` after the ref is moved back to the first version (so gc has
packs to condemn).  ``--large`` adds two synthetic data sets: a tree of 5,000 files of 100 KB
(500 MB; the successive push rewrites 5 % of them) and one file of 1 GiB.  Their bytes are
base64 text of a seeded random stream: compressible by about a quarter, never deduplicated.

    python benchmarks/memory.py --corpus requests=benchmarks/work/corpus/requests \\
        --corpus json=benchmarks/work/corpus/json --large --out memory.json
    python benchmarks/memory.py --table memory.json [--before before.json]

The table prints peak RSS in MB per command and corpus (``before -> after`` with ``--before``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import Meter  # noqa: E402

COMMANDS = ("push first", "push next", "pull", "copy", "verify --read-data", "gc")
TIMEOUT = 1800.0
MB = 1 << 20  # MiB, as report.py counts them


def flowpack_exe() -> str:
    exe = Path(sys.executable).with_name("flowpack")
    return str(exe) if exe.exists() else "flowpack"


class Bench:
    """One corpus's store, cache and peaks (command -> (peak RSS bytes, CPU s))."""

    def __init__(self, work: Path) -> None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.work = work
        self.store = (work / "store").as_uri()
        self.env = dict(os.environ, FLOWPACK_CACHE=str(work / "cache"))
        self.peaks: dict[str, tuple[int, float]] = {}

    def run(self, what: str, *args: str) -> None:
        meter = Meter()
        meter.run([flowpack_exe(), "--store", self.store, *args], env=self.env, timeout=TIMEOUT)
        run = meter.runs[-1]
        peak, cpu = self.peaks.get(what, (0, 0.0))
        self.peaks[what] = (max(peak, run.peak_rss), max(cpu, run.cpu))
        print(f"  {what}: {run.peak_rss / MB:.0f} MB, {run.cpu:.2f} s CPU", file=sys.stderr)

    def series(self, versions: Iterator[Path]) -> None:
        """Push each version to one ref, then measure the other verbs on the last."""
        for i, tree in enumerate(versions):
            self.run("push first" if i == 0 else "push next", "push", str(tree), "--ref", "b/x")
            if i == 0:
                self.run("push first", "ref", "set", "b/first", "b/x")
        self.run("pull", "pull", "b/x", str(self.work / "pulled"))
        shutil.rmtree(self.work / "pulled")
        self.run("copy", "copy", self.store, (self.work / "copy").as_uri())
        shutil.rmtree(self.work / "copy")
        self.run("verify --read-data", "verify", "--read-data")
        self.run("gc", "ref", "rm", "b/x")
        self.run("gc", "gc", "--grace", "0", "--force")


def folders(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.iterdir() if p.is_dir())


def text_stream(seed: int, n: int) -> Iterator[bytes]:
    """``n`` bytes of base64 text from a seeded random stream, in blocks of 1 MiB or less."""
    rng = random.Random(seed)
    while n > 0:
        block = base64.b64encode(rng.randbytes(768 << 10))[:n]
        n -= len(block)
        yield block


def write_file(path: Path, seed: int, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for block in text_stream(seed, n):
            fh.write(block)


def large_tree(root: Path, files: int = 5000, size: int = 100_000) -> Iterator[Path]:
    """The 500 MB tree, then the same tree with every 20th file rewritten in its middle."""
    for i in range(files):
        write_file(root / f"d{i // 100:02d}" / f"f{i:04d}.txt", i, size)
    yield root
    for i in range(0, files, 20):
        path = root / f"d{i // 100:02d}" / f"f{i:04d}.txt"
        data = bytearray(path.read_bytes())
        data[size // 2 : size // 2 + 4096] = b"".join(text_stream(10**6 + i, 4096))
        path.write_bytes(bytes(data))
    yield root


def one_file(root: Path, size: int = 1 << 30) -> Iterator[Path]:
    write_file(root / "big.txt", 7, size)
    yield root


def measure(name: str, versions: Callable[[], Iterator[Path]], work: Path) -> dict[str, object]:
    print(f"{name}:", file=sys.stderr)
    bench = Bench(work / name)
    bench.series(versions())
    shutil.rmtree(bench.work, ignore_errors=True)
    return {k: {"peak_rss": v[0], "cpu": v[1]} for k, v in bench.peaks.items()}


def table(results: dict[str, dict[str, dict[str, float]]], before: dict[str, object]) -> str:
    names = list(results)
    lines = [
        "| command | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for cmd in COMMANDS:
        cells = []
        for n in names:
            now = results[n].get(cmd)
            old = before.get(n, {}).get(cmd) if isinstance(before.get(n), dict) else None  # type: ignore[union-attr]
            cell = f"{now['peak_rss'] / MB:.0f}" if now else "-"
            if old:
                cell = f"{old['peak_rss'] / MB:.0f} -> {cell}"
            cells.append(cell)
        lines.append(f"| {cmd} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", action="append", default=[], metavar="NAME=DIR")
    p.add_argument("--large", action="store_true", help="add the 500 MB tree and the 1 GiB file")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "flowpack-memory")
    p.add_argument("--out", type=Path, help="write the peaks as JSON here")
    p.add_argument("--table", type=Path, help="print the table of an earlier --out and stop")
    p.add_argument("--before", type=Path, help="with --table: an earlier run to compare with")
    a = p.parse_args()
    before = json.loads(a.before.read_text()) if a.before else {}
    if a.table:
        print(table(json.loads(a.table.read_text()), before))
        return 0
    results: dict[str, dict[str, dict[str, float]]] = {}
    for spec in a.corpus:
        name, _, root = spec.partition("=")
        if not root or not Path(root).is_dir():
            raise SystemExit(f"--corpus wants NAME=DIR with an existing DIR, not {spec!r}")
        results[name] = measure(name, lambda r=Path(root): folders(r), a.work)  # type: ignore[misc]
    if a.large:
        data = a.work / "data"
        results["500 MB tree"] = measure("tree", lambda: large_tree(data / "tree"), a.work)
        results["1 GiB file"] = measure("file", lambda: one_file(data / "file"), a.work)
        shutil.rmtree(data, ignore_errors=True)
    if a.out:
        a.out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results, before))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
