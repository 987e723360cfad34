"""Requests and bytes a registration costs on each bucket backend, counted on the wire.

Usage: python benchmarks/bucket_requests.py [--schemes s3,gs,az] [--mib 50] [--out FILE]

For each scheme this starts the real test server (moto, fake-gcs-server, Azurite: see
``tests/servers``) behind a counting proxy, writes a project of ``--mib`` MiB (the sample flow
of the tests plus 1 MiB data files it includes), and runs each step in a fresh Python process,
as ``flowpack register`` would run, with the store reached through the standard variables
(``AWS_ENDPOINT_URL``, ``STORAGE_EMULATOR_HOST``, ``AZURE_STORAGE_CONNECTION_STRING``):

1. ``first``: register the flow with the scheme's seed class (``S3``/``GCS``/``Azure``, script
   mode), the registry being the bucket's own store;
2. ``unchanged``: register it again, unchanged;
3. ``one-line``: change one line of a helper module, register again;
4. ``pull``: restore the bundle into a new directory with an empty local cache.

Each request the proxy forwards is classified by the object it names (ref, config, index
listing, gc listing, index file, pack, probe) and its body bytes are summed.  The report is
Markdown on stdout (and in ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "tests" / "packer")]

SCHEMES = ("s3", "gs", "az")
CLASSES = {"s3": "S3", "gs": "GCS", "az": "Azure"}


def classify(method: str, path: str, query: str, head: bytes) -> str:
    """What one request is about, from its method, path, query and first body bytes."""
    text = f"{path}?{query}"
    name = head.decode("latin-1")
    where = text + name
    if "flowpack-probe" in where:
        return "probe"
    if method == "GET" and ("list-type" in query or "comp=list" in query or path.endswith("/o")):
        if "gc%2F" in query or "gc/" in query or "prefix=gc" in query:
            return "list gc/"
        return "list index/"
    verb = "put" if method in ("PUT", "POST") else method.lower()
    for part, label in (
        ("/refs/", "ref"),
        ("refs%2F", "ref"),
        ("/packs/", "pack"),
        ("packs%2F", "pack"),
        ("/index/", "index"),
        ("index%2F", "index"),
        ("/config", "config"),
        ("config", "config"),
    ):
        if part in where:
            return f"{verb} {label}"
    return f"{verb} other"


# -- one step, in its own process -------------------------------------------------------------


def step(args: argparse.Namespace) -> None:
    """Run one step and print its result as JSON (the child process)."""
    import flowpack.storage as storage_classes
    from flowpack.cas.opening import open_store
    from flowpack.cas.restore import restore_tree
    from flowpack.packer.register import register_flow
    from flowpack.packer.script import ScriptSource, collect

    project = Path(args.project)
    cls = getattr(storage_classes, CLASSES[args.scheme])
    storage = cls(args.bucket, stored_as_script=True, include=["flows/data/*"])
    registry = open_store(storage.store_url(), sync_once=True)  # as `flowpack register`
    if args.step == "pull":
        digest = registry.resolve("flows/demo/etl")
        from flowpack.packer.records import read_registration

        bundle = read_registration(registry, digest).bundle
        manifest = restore_tree(registry, bundle, Path(args.dest))
        chunks = {c for f in manifest.files for c in f.chunks}
        packs = {registry.index.get(c).pack.hex for c in chunks if registry.index.get(c)}
        print(json.dumps({"chunks": len(chunks), "packs": len(packs)}))
        return
    source = ScriptSource.from_path(project / "flows" / "etl.py")
    (flow,) = collect(source)
    result = register_flow(registry, flow, project="demo", storage=storage, source=source)
    print(json.dumps(result.as_dict()))


# -- the driver -------------------------------------------------------------------------------


def make_data(root: Path, mib: int) -> None:
    from flowfixtures import make_project

    make_project(root)
    data = root / "flows" / "data"
    data.mkdir()
    for i in range(mib):
        (data / f"part{i:03d}.bin").write_bytes(os.urandom(1 << 20))


def run_scheme(scheme: str, mib: int, work: Path) -> list[dict[str, Any]]:
    from servers.buckets import start_server
    from servers.proxy import FaultProxy

    server = start_server(scheme)
    rows: list[dict[str, Any]] = []
    try:
        bucket = server.new_bucket()
        project = work / f"{scheme}-project"
        make_data(project, mib)
        with FaultProxy(server.endpoint) as proxy:
            env = {**os.environ, **server.env(proxy.endpoint)}
            env["FLOWPACK_CACHE"] = str(work / f"{scheme}-cache")
            env["PYTHONPATH"] = os.pathsep.join(sys.path)
            for name in ("first", "unchanged", "one-line", "pull"):
                if name == "one-line":
                    helper = project / "flows" / "helpers.py"
                    helper.write_text(helper.read_text().replace("OFFSET = 1", "OFFSET = 2"))
                if name == "pull":
                    env["FLOWPACK_CACHE"] = str(work / f"{scheme}-cache-pull")
                proxy.reset()
                argv = [
                    sys.executable,
                    __file__,
                    "--step",
                    name,
                    "--scheme",
                    scheme,
                    "--bucket",
                    bucket,
                    "--project",
                    str(project),
                    "--dest",
                    str(work / f"{scheme}-pulled"),
                ]
                done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise SystemExit(f"{scheme} {name} failed:\n{done.stderr}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                reqs = proxy.snapshot()
                kinds = Counter(classify(r.method, r.path, r.query, r.head) for r in reqs)
                sent = Counter()
                for r in reqs:
                    sent[classify(r.method, r.path, r.query, r.head)] += r.sent
                rows.append(
                    {
                        "scheme": scheme,
                        "step": name,
                        "requests": len(reqs),
                        "kinds": dict(kinds),
                        "sent": dict(sent),
                        "bytes_sent": sum(sent.values()),
                        "result": result,
                    }
                )
    finally:
        server.process.stop()
    return rows


def report(rows: list[dict[str, Any]], mib: int) -> str:
    out = [
        f"Project: the test suite's sample flow plus {mib} x 1 MiB random data files "
        "(script mode, registry = the bucket's store).",
        "",
    ]
    out.append("| backend | step | requests | bytes sent | packs+index sent | requests by kind |")
    out.append("| --- | --- | ---: | ---: | ---: | --- |")
    for r in rows:
        data = r["sent"].get("put pack", 0) + r["sent"].get("put index", 0)
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items()))
        extra = ""
        if r["step"] == "pull":
            extra = f" ({r['result']['chunks']} chunks in {r['result']['packs']} packs)"
        out.append(
            f"| {r['scheme']} | {r['step']}{extra} | {r['requests']} | {r['bytes_sent']:,} "
            f"| {data:,} | {kinds} |"
        )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemes", default=",".join(SCHEMES))
    parser.add_argument("--mib", type=int, default=50)
    parser.add_argument("--out")
    parser.add_argument("--step")
    parser.add_argument("--scheme")
    parser.add_argument("--bucket")
    parser.add_argument("--project")
    parser.add_argument("--dest")
    args = parser.parse_args()
    if args.step:
        step(args)
        return
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="flowpack-bucket-requests-") as tmp:
        for scheme in args.schemes.split(","):
            rows += run_scheme(scheme, args.mib, Path(tmp))
    text = report(rows, args.mib)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
