"""What a registration costs on each bucket backend, counted on the wire by a proxy.

Each "process" below is a fresh store, filesystem and precondition probe (a new proxy, so a new
endpoint), sharing only the on-disk index cache, as successive ``flowpack register`` runs do.
The bounds asserted are the ones measured today (see ``benchmarks/requests.md`` for the numbers
on a 50 MB project, the targets, and where the remaining requests come from); they guard
against regressions:

- re-registering an unchanged flow uploads nothing and costs a fixed handful of reads;
- a one-line change sends a few KiB whatever the project's size, in two packs, two index files
  and one ref update (plus the probe);
- pulling a bundle costs requests per pack touched, not per chunk.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flowpack.cas.memory import process_budget
from flowpack.cas.opening import open_store
from flowpack.cas.restore import restore_tree
from flowpack.cas.store import Store
from flowpack.packer.records import read_registration
from flowpack.packer.register import REGISTERED, SKIPPED, RegisterResult, register_flow
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage import GCS, S3, Azure
from flowpack.storage.bucket import BucketStorage
from servers.buckets import BucketServer
from servers.proxy import FaultProxy, Request

FLOW = """\
from flowpack import Flow, task

from helpers import offset


@task
def compute():
    return offset()


with Flow("etl") as flow:
    compute()
"""


def kind(r: Request) -> str:
    """What a request is about: its object (ref, config, pack, index, probe) or listing."""
    where = f"{r.path}?{r.query}" + r.head.decode("latin-1")
    if "flowpack-probe" in where:
        return "probe"
    if r.method == "GET" and (
        "list-type" in r.query or "comp=list" in r.query or r.path.endswith("/o")
    ):
        return "list gc" if ("gc%2F" in r.query or "gc/" in r.query) else "list index"
    verb = "put" if r.is_write else r.method.lower()
    for part, label in (
        ("refs", "ref"),
        ("packs", "pack"),
        ("index", "index"),
        ("config", "config"),
    ):
        if (
            f"/{part}/" in where
            or f"{part}%2F" in where
            or where.endswith(f"/{part}")
            or (part == "config" and "config" in where)
        ):
            return f"{verb} {label}"
    return f"{verb} other"


class Project:
    """A flow project with data files the bundle includes, and its store in the bucket."""

    def __init__(self, server: BucketServer, root: Path, data_mib: int) -> None:
        self.server = server
        self.root = root
        self.prefix = f"t/{uuid.uuid4().hex}"
        (root / "flows" / "data").mkdir(parents=True)
        (root / "pyproject.toml").write_text("[project]\nname = 'sample'\n")
        (root / "flows" / "etl.py").write_text(FLOW)
        (root / "flows" / "helpers.py").write_text("def offset():\n    return 1\n")
        for i in range(data_mib):
            (root / "flows" / "data" / f"part{i}.bin").write_bytes(os.urandom(1 << 20))

    def storage(self) -> BucketStorage:
        cls = {"s3": S3, "gs": GCS, "az": Azure}[self.server.scheme]
        return cls(
            self.server.bucket,
            stored_as_script=True,
            include=["flows/data/*"],
            prefix=self.prefix,
        )


@contextmanager
def process(server: BucketServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fresh client: its own endpoint (a new proxy) given by the standard variables."""
    with FaultProxy(server.endpoint) as proxy:
        for name, value in server.env(proxy.endpoint).items():
            monkeypatch.setenv(name, value)
        yield proxy


def register(project: Project, cache: Path) -> tuple[RegisterResult, Store]:
    storage = project.storage()
    registry = open_store(storage.store_url(), cache_dir=cache, sync_once=True)
    source = ScriptSource.from_path(project.root / "flows" / "etl.py")
    (flow,) = collect(source)
    return register_flow(registry, flow, project="demo", storage=storage, source=source), registry


def test_registration_request_counts(
    server: BucketServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_CACHE", str(tmp_path / "cache"))
    cache = tmp_path / "cache"
    project = Project(server, tmp_path / "project", data_mib=3)
    with process(server, monkeypatch):
        first, _ = register(project, cache)
    assert first.status == REGISTERED

    with process(server, monkeypatch) as proxy:
        again, _ = register(project, cache)
    reqs = proxy.snapshot()
    kinds = Counter(kind(r) for r in reqs)
    assert again.status == SKIPPED and again.bytes_uploaded == 0
    assert [r for r in reqs if r.is_write] == []
    assert kinds["get ref"] == 1 and kinds["get config"] <= 1
    assert kinds["list index"] == 1 and kinds["list gc"] == 1 and kinds["get pack"] == 0
    # Each step's proxy has a new port: a new endpoint, so the locally cached config (keyed by
    # URL and endpoint) is read once more; on a fixed endpoint it is not.
    assert len(reqs) - kinds["get config"] <= 3, kinds  # the target

    helpers = project.root / "flows" / "helpers.py"
    helpers.write_text(helpers.read_text().replace("return 1", "return 2"))
    with process(server, monkeypatch) as proxy:
        changed, _ = register(project, cache)
    reqs = proxy.snapshot()
    kinds = Counter(kind(r) for r in reqs)
    assert changed.status == REGISTERED and changed.version == 2
    writes = Counter(kind(r) for r in reqs if r.is_write and kind(r) != "probe")
    assert writes == {"put pack": 1, "put index": 1, "put ref": 1}, writes
    # Each step's proxy listens on a new port, so the endpoint is new to the probe cache and
    # is probed again; on a fixed endpoint the answer is remembered (benchmarks/requests.md).
    assert kinds["probe"] <= 1
    sent = sum(r.sent for r in reqs)
    data = sum(r.sent for r in reqs if kind(r) in ("put pack", "put index"))
    assert data <= 8 << 10  # a few KiB, for a project of 3 MiB (3 KiB for 50 MB, measured)
    assert sent <= 1.1 * data + 1024  # the rest: the ref's new value
    assert kinds["get config"] <= 1
    assert len(reqs) - kinds["probe"] - kinds["get config"] <= 6, kinds  # the target


def test_pull_requests_grow_with_packs_not_chunks(
    server: BucketServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three times the chunks, in one pack: pack reads grow with the read-ahead windows of the
    memory budget (one ranged read each, plus two), not with chunks."""
    counts = []
    for mib in (1, 3):
        project = Project(server, tmp_path / f"p{mib}", data_mib=mib)
        with process(server, monkeypatch):
            result, _ = register(project, tmp_path / f"cache{mib}")
        with process(server, monkeypatch) as proxy:
            store = open_store(project.storage().store_url(), cache_dir=tmp_path / f"pull{mib}")
            bundle = read_registration(store, store.resolve("flows/demo/etl")).bundle
            proxy.reset()
            manifest = restore_tree(store, bundle, tmp_path / f"out{mib}")
        chunks = {c for f in manifest.files for c in f.chunks}
        packs = {store.index.get(c).pack.hex for c in chunks}  # type: ignore[union-attr]
        reads = [r for r in proxy.snapshot() if kind(r) == "get pack"]
        counts.append(len(reads))
        assert len(packs) == 1 and len(chunks) >= 12 * mib
        assert result.status == REGISTERED
    window = process_budget().read_ahead
    assert counts[0] <= 3 and counts[1] <= 2 + -(-(3 << 20) // window), counts
