"""A bucket location owns its SDK session: closing the location releases it, sharing is counted,
and the probe memo lives with the session (plus the documented positive answer on disk)."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from bucketkit import via

from flowpack.backends.bucket.sessions import SESSIONS, SessionPool
from flowpack.cas.digest import Digest
from flowpack.cas.registry import open_location
from servers.buckets import AZURITE_KEY, Azurite, BucketServer
from servers.proxy import FaultProxy


def open_http_sessions() -> list[aiohttp.ClientSession]:
    """The aiohttp client sessions of this process that are not closed."""
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed]


def probes(proxy: FaultProxy) -> int:
    return sum(1 for r in proxy.snapshot() if r.is_write and r.names("flowpack-probe"))


def test_closing_a_location_releases_its_session(server: BucketServer, proxy: FaultProxy) -> None:
    pooled, before = SESSIONS.open_sessions(), {id(s) for s in open_http_sessions()}
    location = open_location(via(server, proxy))
    location.blobs.put("config", b"x")  # the SDK builds its session on first use
    assert SESSIONS.open_sessions() == pooled + 1
    mine = [s for s in open_http_sessions() if id(s) not in before]
    assert mine  # the location's own HTTP session(s), open
    location.close()
    assert SESSIONS.open_sessions() == pooled
    assert all(s.closed for s in mine)
    location.close()  # closing twice is harmless
    assert SESSIONS.open_sessions() == pooled


def test_locations_opened_alike_share_one_session_until_the_last_closes(
    server: BucketServer, proxy: FaultProxy
) -> None:
    pooled = SESSIONS.open_sessions()
    first = open_location(via(server, proxy))
    second = open_location(via(server, proxy))  # same endpoint and options, another prefix
    first.blobs.put("config", b"1")
    second.blobs.put("config", b"2")
    assert SESSIONS.open_sessions() == pooled + 1
    first.close()
    assert SESSIONS.open_sessions() == pooled + 1
    assert second.blobs.get("config") == b"2"  # the shared session still works
    second.close()
    assert SESSIONS.open_sessions() == pooled


def test_the_probe_memo_lives_with_the_session_and_positive_answers_on_disk(
    server: BucketServer, proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_CACHE", str(tmp_path / "cache"))
    with open_location(via(server, proxy)) as location:
        assert location.refs.compare_and_set("tags/a", Digest.of(b"a"), None)
    assert probes(proxy) == 1
    with open_location(via(server, proxy)) as location:  # a new session: the disk remembers
        assert location.refs.compare_and_set("tags/a", Digest.of(b"a"), None)
    assert probes(proxy) == 1
    shutil.rmtree(tmp_path / "cache" / "flowpack" / "probes")
    with open_location(via(server, proxy)) as location:  # nothing kept in the process
        assert location.refs.compare_and_set("tags/a", Digest.of(b"a"), None)
    assert probes(proxy) == 2


def test_a_negative_answer_is_forgotten_with_the_session(
    server: BucketServer, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.strip_preconditions = True
    url = via(server, proxy, unsafe_refs="1")
    if isinstance(server, Azurite):  # a shared key signs the If-* headers; a SAS does not
        url = url.replace(
            f"account_key={quote(AZURITE_KEY, safe='')}",
            "sas_token=" + quote(server.sas_token(), safe=""),
        )
    for _ in range(2):
        with open_location(url) as location:
            location.refs.compare_and_set("tags/a", Digest.of(b"a"), None)
            assert not location.capabilities.atomic_create
    assert probes(proxy) == 2
    warnings = [r for r in caplog.records if "ignores conditional writes" in r.getMessage()]
    assert len(warnings) == 2


def test_the_pool_counts_leases_and_closes_once() -> None:
    closed: list[Any] = []
    pool = SessionPool()
    a = pool.acquire(dict, {"n": 1}, (), closed.append)
    b = pool.acquire(dict, {"n": 1}, (), closed.append)
    c = pool.acquire(dict, {"n": 2}, (), closed.append)
    assert a.fs is b.fs and a.fs is not c.fs and a.memo is b.memo
    assert pool.open_sessions() == 2
    a.release()
    a.release()
    assert closed == [] and pool.open_sessions() == 2
    b.release()
    assert closed == [{"n": 1}] and pool.open_sessions() == 1
    c.release()
    assert closed == [{"n": 1}, {"n": 2}] and pool.open_sessions() == 0
    again = pool.acquire(dict, {"n": 1}, (), closed.append)
    assert again.fs is not a.fs
