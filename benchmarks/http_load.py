"""Load on ``flowpack serve``: N clients for a fixed time, per-operation p50/p99 and throughput.

Starts ``flowpack serve`` over a fresh ``file://`` store on a free port of 127.0.0.1, then runs
``--clients`` threads (each with its own pooled connection set, as separate processes would
have) for ``--seconds``.  Every client loops over: a content-addressed blob upload
(``packs/<blake3>``, ``--size`` bytes), a ranged read of it, a stat, a ``blobs:missing`` batch
of 32 keys, and a ref compare-and-set (create, then move).  A second phase pushes and pulls
small bundles through the full store (``Store.put_files`` / ``read_file``).  Prints a table and,
with ``--json``, one JSON document.

Usage: python benchmarks/http_load.py [--clients 16] [--seconds 5] [--size 65536] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3

from flowpack.backends.http.auth import create_token
from flowpack.cas.digest import Digest
from flowpack.cas.opening import open_store
from flowpack.cas.registry import open_location
from flowpack.cas.tree import SourceFile

SERVE = "from flowpack.cli.main import main; main()"


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """``flowpack serve`` on a free port; returns the process, its URL and an admin token."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = root / "server.json"
    token, _ = create_token(config, "admin")
    argv = [sys.executable, "-c", SERVE, "--store", str(root / "store"), "serve"]
    argv += ["--port", str(port), "--config", str(config)]
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("flowpack serve did not start")
        time.sleep(0.02)
    return proc, f"http://127.0.0.1:{port}", token


class Recorder:
    """Latencies per operation, from every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.bytes = 0

    def time(self, op: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        with self.lock:
            self.samples[op].append(elapsed)
        return result

    def summary(self, seconds: float) -> dict[str, dict[str, float]]:
        out = {}
        for op, values in sorted(self.samples.items()):
            ordered = sorted(values)
            out[op] = {
                "count": len(values),
                "p50_ms": 1000 * statistics.median(ordered),
                "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
                "per_s": len(values) / seconds,
            }
        return out


def blob_client(url: str, size: int, deadline: float, rec: Recorder, i: int) -> None:
    with open_location(url) as location:
        blobs, refs = location.blobs, location.refs
        name, token, n = f"bench/c{i}", None, 0
        while time.monotonic() < deadline:
            data = os.urandom(size)
            key = f"packs/{blake3.blake3(data).hexdigest()}"
            rec.time("blob put", lambda: blobs.put(key, data))  # noqa: B023
            rec.time("blob get 4KiB range", lambda: blobs.get(key, size // 2, 4096))  # noqa: B023
            rec.time("blob stat", lambda: blobs.stat(key))  # noqa: B023
            keys = [key] + [f"packs/{n:064x}" for n in range(31)]
            rec.time("blobs:missing x32", lambda: blobs.missing(keys))  # type: ignore[attr-defined]  # noqa: B023
            digest = Digest.of(data)
            ok = rec.time("ref compare-and-set", lambda: refs.compare_and_set(name, digest, token))  # noqa: B023
            assert ok, "a client's own ref moved under it"
            token = refs.read(name)[1]  # type: ignore[index]
            with rec.lock:
                rec.bytes += size
            n += 1


def store_client(url: str, cache: Path, deadline: float, rec: Recorder, i: int) -> None:
    store = open_store(url, cache_dir=cache)
    try:
        while time.monotonic() < deadline:
            data = os.urandom(16 * 1024)
            digest = rec.time(
                "store put 16KiB bundle",
                lambda: store.put_files([SourceFile.from_bytes("data", data)]).digest,  # noqa: B023
            )
            got = rec.time("store read 16KiB file", lambda: store.read_file(digest, "data"))  # noqa: B023
            assert got == data
    finally:
        store.close()


def run_phase(clients: int, target: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowpack-http-load-") as tmp:
        root = Path(tmp)
        proc, url, token = start_server(root)
        os.environ["FLOWPACK_TOKEN"] = token
        try:
            rec = Recorder()
            deadline = time.monotonic() + args.seconds
            run_phase(args.clients, lambda i: blob_client(url, args.size, deadline, rec, i))
            blob = rec.summary(args.seconds)
            blob_mib_s = rec.bytes / args.seconds / (1 << 20)
            rec2 = Recorder()
            deadline = time.monotonic() + args.seconds
            run_phase(
                args.clients,
                lambda i: store_client(url, root / f"cache{i}", deadline, rec2, i),
            )
            store = rec2.summary(args.seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    report = {
        "clients": args.clients,
        "seconds": args.seconds,
        "blob_size": args.size,
        "upload_mib_per_s": blob_mib_s,
        "operations": {**blob, **store},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.clients} clients, {args.seconds:.0f} s per phase, {args.size} B blobs")
    print(f"{'operation':<24}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'ops/s':>10}")
    for op, row in report["operations"].items():  # type: ignore[attr-defined]
        print(
            f"{op:<24}{row['count']:>8}{row['p50_ms']:>10.1f}{row['p99_ms']:>10.1f}"
            f"{row['per_s']:>10.1f}"
        )
    print(f"blob upload throughput: {blob_mib_s:.1f} MiB/s")


if __name__ == "__main__":
    main()
