"""16 clients pushing and pulling through one ``flowpack serve`` for a few seconds: every
acknowledged write is there afterwards (own refs and a shared compare-and-set log), and the
store verifies clean.  Timings are the benchmark's business (benchmarks/http_load.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from flowpack.cas.digest import Digest
from flowpack.cas.opening import open_store
from flowpack.cas.registry import open_location
from flowpack.cas.store import Store
from flowpack.cas.testing import race
from flowpack.cas.tree import SourceFile
from flowpack.cas.verify import verify
from servers.httpserver import start_flowpack_server

CLIENTS = 16
SECONDS = 3.0
LOG = "load/log"


def put_object(store: Store, data: bytes) -> Digest:
    """Store ``data`` as a one-file bundle; its digest names it."""
    return store.put_files([SourceFile.from_bytes("data", data)]).digest


def get_object(store: Store, digest: Digest) -> bytes:
    return store.read_file(digest, "data")


def test_sixteen_clients_lose_no_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_flowpack_server(tmp_path / "server")
    monkeypatch.setenv("FLOWPACK_TOKEN", server.tokens["admin"])
    written: dict[str, bytes] = {}
    appended: list[str] = []
    lock = threading.Lock()
    stores = [open_store(server.url, cache_dir=tmp_path / f"c{i}") for i in range(CLIENTS)]
    put_object(stores[0], b"initialise the store")
    locations = [open_location(server.url) for _ in range(CLIENTS)]
    deadline = time.monotonic() + SECONDS

    def client(i: int) -> int:
        store, refs = stores[i], locations[i].refs
        n = 0
        try:
            while n == 0 or time.monotonic() < deadline:
                data = f"client {i} write {n} ".encode() + os.urandom(256)
                digest = put_object(store, data)
                assert refs.compare_and_set(f"load/c{i}/w{n}", digest, None)
                assert get_object(store, digest) == data
                with lock:
                    written[f"load/c{i}/w{n}"] = data
                entry = f"c{i}w{n}"
                n += 1
                while time.monotonic() < deadline + 1:  # append to the log by compare-and-set
                    found = refs.read(LOG)
                    lines = get_object(store, found[0]).decode().split() if found else []
                    new = put_object(store, " ".join([*lines, entry]).encode())
                    if refs.compare_and_set(LOG, new, found[1] if found else None):
                        with lock:
                            appended.append(entry)
                        break
        finally:
            store.close()
            locations[i].close()
        return n

    try:
        started = time.monotonic()
        outcomes = race(CLIENTS, client)
        print(f"clients done in {time.monotonic() - started:.1f}s, {len(written)} writes")
        assert all(isinstance(o, int) for o in outcomes), outcomes
        check_no_write_lost(server.url, tmp_path / "reader", written, appended)
    finally:
        server.process.stop()


def check_no_write_lost(
    url: str, cache: Path, written: dict[str, bytes], appended: list[str]
) -> None:
    """Every acknowledged write is readable, the log holds each append once, verify is clean."""
    reader = open_store(url, cache_dir=cache)
    try:
        with open_location(url) as location:
            for name, data in written.items():
                found = location.refs.read(name)
                assert found is not None, name
                assert get_object(reader, found[0]) == data
            log = location.refs.read(LOG)
            assert log is not None
        entries = get_object(reader, log[0]).decode().split()
        assert sorted(entries) == sorted(appended)  # no lost and no doubled append
        report = verify(reader, read_data=True)
        assert report.ok, report.problems
    finally:
        reader.close()
