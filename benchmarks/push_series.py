"""Push successive versions of the JSON corpus, one CLI process each, and time every push.

The working copy is updated in place between pushes (only changed files rewritten, see
``jsoncorpus.py``), then ``flowpack push DIR --ref REF`` runs under GNU time: CPU time (user +
system), wall time and peak RSS of each push, and the bytes it uploaded (from ``--json``), so a
push that grows with history shows as a rising column.  ``--ref-per-version`` pushes each
version under its own ref (``v/<n>``) instead, as tags or pinned builds are.

    python benchmarks/push_series.py --versions 40 --scale 0.25 [--out FILE.md]

CPU time is the figure to trust on a shared machine; wall time is shown beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from jsoncorpus import Corpus, update_in_place  # noqa: E402

TIME = "/usr/bin/time"


def flowpack_exe() -> str:
    exe = Path(sys.executable).with_name("flowpack")
    return str(exe) if exe.exists() else "flowpack"


def run_push(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, dict[str, object]]:
    """(CPU s, wall s, peak RSS KiB, JSON result) of one push, from GNU time."""
    rss_file = Path(env["BENCH_TMP"]) / "time.txt"
    full = [TIME, "-f", "%M %U %S %e", "-o", str(rss_file), *argv]
    proc = subprocess.run(full, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    rss, user, sys_, wall = rss_file.read_text().split()[-4:]
    return float(user) + float(sys_), float(wall), int(rss), json.loads(proc.stdout)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--versions", type=int, default=40)
    p.add_argument("--scale", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", type=Path, default=HERE / "work" / "push_series")
    p.add_argument("--ref-per-version", action="store_true")
    p.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    p.add_argument("--folders", type=Path, help="push DIR/* in order instead of the JSON corpus")
    a = p.parse_args()
    corpus = Corpus(a.seed, a.scale)
    shutil.rmtree(a.work, ignore_errors=True)
    tree, store = a.work / "tree", a.work / "store"
    a.work.mkdir(parents=True)
    env = dict(os.environ, BENCH_TMP=str(a.work), FLOWPACK_CACHE=str(a.work / "cache"))
    rows = [
        "| version | files written | push CPU s | push wall s | uploaded bytes | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    total_cpu = 0.0
    folders = sorted(p for p in a.folders.iterdir() if p.is_dir()) if a.folders else []
    for v in range(1, (len(folders) if folders else a.versions) + 1):
        if folders:
            tree, n = folders[v - 1], sum(1 for f in folders[v - 1].rglob("*") if f.is_file())
        else:
            n, _ = update_in_place(corpus, tree, v)
        ref = f"v/{v}" if a.ref_per_version else "bench/x"
        argv = [flowpack_exe(), "--store", f"file://{store}", "push", str(tree), "--ref", ref]
        cpu, wall, rss, res = run_push([*argv, "--json"], env)
        total_cpu += cpu
        up = res.get("bytes_uploaded", 0)
        rows.append(f"| {v} | {n} | {cpu:.2f} | {wall:.2f} | {up:,} | {rss / 1024:.0f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    stored = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    what = (
        f"{a.folders.name}, {len(folders)} versions"
        if folders
        else f"JSON corpus, scale {a.scale}, seed {a.seed}, {a.versions} versions"
    )
    refs = "one ref per version" if a.ref_per_version else "one ref"
    lines = [
        f"{what}, {refs}: total push CPU {total_cpu:.1f} s, store {stored:,} bytes",
        "",
        *rows,
    ]
    print("\n".join(lines))
    if a.out:
        a.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
