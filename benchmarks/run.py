"""Benchmarks flowpack against its peers on successive versions of real projects (not a test).

Every peer ingests each version of a corpus in order, one snapshot per version, then restores the
last version, checked identical with ``diff -r``.  Printed, and written to ``RESULTS.md``: ingest
wall time, CPU/wall, stored bytes, bytes the last version added, restore time, peak RSS, the
ratios flowpack/peer, flowpack's S3 request counts (moto), the goals, and the start-up figures.

Build the corpora first: bash ../shared/bench/make_corpus.sh benchmarks/work/corpus, and
python benchmarks/jsoncorpus.py benchmarks/work/corpus/json --versions 20 --scale 0.25
Usage: python benchmarks/run.py [--corpus requests,pygments,pickles,json] [--peers flowpack,git]
                                [--quick] [--versions N] [--no-s3] [--no-startup]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import report
import startup
from flowpack_peer import Flowpack, flowpack_exe
from measure import CommandFailed, Meter, load_average
from peers import PEERS, Peer
from report import PeerResult
from s3count import measure_s3

HERE = Path(__file__).resolve().parent
ALL_PEERS: dict[str, type[Peer]] = {"flowpack": Flowpack, **PEERS}
CORPORA = ("requests", "pygments", "pickles", "json")
QUICK_VERSIONS = 4


def bench_peer(cls: type[Peer], corpus: str, versions: list[Path], work: Path) -> PeerResult:
    """Ingest ``versions`` in order with one peer, then restore the last one and compare."""
    res = PeerResult(corpus, cls.name, len(versions))
    stage = "setup"
    try:
        peer = cls(work, corpus)
        peer.setup(Meter())
        ingest = Meter()
        before = 0
        for n, version in enumerate(versions, 1):
            if n == len(versions):
                before = peer.stored_bytes()
            stage = f"ingest of version {n} ({version.name})"
            peer.ingest(n, version, ingest)
        stage = "size of the last version"
        res.last_added = peer.last_added(before, Meter())
        res.last_note = peer.last_note
        stage = "finish (e.g. git gc --aggressive)"
        finish = Meter()
        peer.finish(finish)
        res.stored = peer.stored_bytes()
        stage = "restore"
        dest = work / f"restore-{cls.name}"
        shutil.rmtree(dest, ignore_errors=True)
        restore = Meter()
        peer.restore(len(versions), dest, restore)
        diff = Meter().run(["diff", "-r", str(versions[-1]), str(dest)], check=False)
        shutil.rmtree(dest, ignore_errors=True)
    except CommandFailed as exc:
        res.error = f"{stage}: {exc.reason}"
        res.extra["command"] = str(exc)
        return res
    res.ingest_wall, res.ingest_cpu, res.finish_wall = ingest.wall, ingest.cpu, finish.wall
    res.restore_wall = restore.wall
    res.identical = diff.stdout == b"" and diff.stderr == b""
    res.peak_rss = max(ingest.peak_rss, finish.peak_rss, restore.peak_rss)
    res.extra["rss"] = {"ingest": ingest.peak_rss, "restore": restore.peak_rss}
    res.extra["per_command"] = [
        [round(r.wall, 4), round(r.cpu, 4), r.peak_rss] for r in ingest.runs
    ]
    if isinstance(peer, Flowpack):
        res.extra["pushes"] = peer.pushes
    return res


def machine(peers: list[str]) -> list[str]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    tools = [f"{name}: {ALL_PEERS[name].version()}" for name in peers if ALL_PEERS[name].version()]
    libs = []
    for mod in ("zstandard", "blake3", "pyfastcdc", "msgpack", "moto"):
        try:
            libs.append(f"{mod} {metadata.version(mod)}")
        except metadata.PackageNotFoundError:
            libs.append(f"{mod} (missing)")
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; flowpack tree at {commit}",
        f"- tools: {'; '.join(tools)}",
        f"- libraries: {', '.join(libs)}",
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=",".join(CORPORA), help="comma-separated corpora")
    p.add_argument("--peers", default=",".join(ALL_PEERS), help="comma-separated peers")
    p.add_argument("--quick", action="store_true", help=f"first {QUICK_VERSIONS} versions only")
    p.add_argument("--versions", type=int, default=0, help="first N versions only")
    p.add_argument("--no-s3", action="store_true", help="skip flowpack's S3 request counts")
    p.add_argument("--no-startup", action="store_true", help="skip the start-up measurements")
    p.add_argument("--corpus-dir", type=Path, default=HERE / "work" / "corpus")
    p.add_argument("--work", type=Path, default=HERE / "work" / "runs")
    p.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = p.parse_args()
    corpora = [c for c in args.corpus.split(",") if c]
    peers = [x for x in args.peers.split(",") if x]
    unknown = [x for x in peers if x not in ALL_PEERS] + [c for c in corpora if c not in CORPORA]
    if unknown:
        p.error(f"unknown peer or corpus: {', '.join(unknown)}")
    limit = QUICK_VERSIONS if args.quick else args.versions
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    started = time.perf_counter()
    load_before = load_average()
    results: list[PeerResult] = []
    for corpus in corpora:
        folder = args.corpus_dir / corpus
        if not folder.is_dir():
            make = (
                f"python benchmarks/jsoncorpus.py {folder} --versions 20 --scale 0.25"
                if corpus == "json"
                else f"bash ../shared/bench/make_corpus.sh {args.corpus_dir}"
            )
            sys.exit(f"missing corpus {folder}: {make}")
        versions = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.endswith(".tmp"))
        versions = versions[:limit] if limit else versions
        work = args.work / corpus
        for name in peers:
            print(f"{corpus}: {name} (load {load_average()}) ...", file=sys.stderr, flush=True)
            res = bench_peer(ALL_PEERS[name], corpus, versions, work)
            res.extra["load"] = load_average()
            if name == "flowpack" and not args.no_s3 and not res.error:
                res.extra["s3"] = measure_s3(flowpack_exe(), corpus, versions, work / "s3")
            results.append(res)
    start = None
    if not args.no_startup and "flowpack" in peers:
        print("start-up ...", file=sys.stderr, flush=True)
        start = startup.measure(args.corpus_dir, args.work / "startup")
    lines = ["# flowpack against its peers", ""]
    lines += ["Reproduce (after building the corpora into `benchmarks/work/corpus`):", ""]
    lines += [
        "```",
        "bash ../shared/bench/make_corpus.sh benchmarks/work/corpus",
        command,
        "```",
        "",
    ]
    lines += machine(peers)
    lines += [f"- harness wall time: {time.perf_counter() - started:.0f} s"]
    lines += [
        f"- load average (1, 5, 15 min) at the start: {load_before}; at the end: "
        f"{load_average()}. Times are wall clock on a shared machine: a load above the "
        "CPU count inflates them, and CPU times are the steadier figure.",
        "- every command runs under GNU time for its peak RSS (about 1 ms of overhead each); "
        "Python tools run with their bytecode cache warm, as installed packages do.",
        "",
    ]
    lines += report.goals_section(results, start)
    for corpus in corpora:
        lines += report.corpus_section(corpus, [r for r in results if r.corpus == corpus])
    if start:
        lines += startup.render(start)
    text = "\n".join(lines)
    print(text)
    args.out.write_text(keep_setup_section(args.out, text))
    args.work.mkdir(parents=True, exist_ok=True)
    raw = {"results": [dataclasses.asdict(r) for r in results], "startup": start}
    (args.work / "results.json").write_text(json.dumps(raw, indent=1, default=str))
    return 0


def keep_setup_section(out: Path, text: str) -> str:
    """``text`` plus the set-up section ``benchmarks/setup_time.py`` wrote into ``out``."""
    from setup_time import BEGIN, END

    old = out.read_text() if out.exists() else ""
    if BEGIN not in old or END not in old:
        return text
    kept = BEGIN + old.split(BEGIN, 1)[1].split(END, 1)[0] + END
    return text.rstrip("\n") + "\n\n" + kept + "\n"


if __name__ == "__main__":
    sys.exit(main())
