"""The ref commands mean the same on every backend (file, memory, S3, GCS, Azure).

Each backend is a real server (moto, fake-gcs-server, Azurite) started by the session fixtures
of ``tests/servers/buckets.py``.  The adapter-level meaning of each case is held by the shared
conformance suite (:mod:`flowpack.cas.testing.refs`); these tests hold the command-line one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cli_invoke import make_invoker

BACKENDS = ["file", "memory", "s3", "gs", "az"]


@pytest.fixture(params=BACKENDS)
def url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    bucket_server_for: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    if request.param == "file":
        return (tmp_path / "store").as_uri()
    if request.param == "memory":
        return f"memory://refs-{uuid.uuid4().hex}"
    server = bucket_server_for(request.param)
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return str(server.fresh_url())


def two_digests(url: str, tree: Path) -> tuple[str, str]:
    cli = make_invoker(url)
    one = cli("push", tree).stdout.strip()
    (tree / "flow.py").write_text("print('two')\n")
    return one, cli("push", tree).stdout.strip()


def test_ref_set_create_of_an_existing_ref_at_the_same_value_exits_3(url: str, tree: Path) -> None:
    cli = make_invoker(url)
    d = cli("push", tree).stdout.strip()
    cli("ref", "set", "--create", "tags/v1", d)
    line = cli("ref", "set", "--create", "tags/v1", d, code=3).stderr
    assert "tags/v1" in line and d in line
    assert cli("ref", "get", "tags/v1").stdout.strip() == d


def test_ref_set_expect_a_stale_value_exits_3_even_when_already_set(url: str, tree: Path) -> None:
    d1, d2 = two_digests(url, tree)
    cli = make_invoker(url)
    cli("ref", "set", "--create", "flows/p/f", d1)
    cli("ref", "set", "--expect", d1, "flows/p/f", d2)
    line = cli("ref", "set", "--expect", d1, "flows/p/f", d2, code=3).stderr
    assert "flows/p/f" in line and d2 in line
    assert cli("ref", "get", "flows/p/f").stdout.strip() == d2


def test_ref_rm_expect_a_stale_value_exits_3_and_keeps_the_ref(url: str, tree: Path) -> None:
    d1, d2 = two_digests(url, tree)
    cli = make_invoker(url)
    cli("ref", "set", "--create", "flows/p/f", d2)
    assert "flows/p/f" in cli("ref", "rm", "--expect", d1, "flows/p/f", code=3).stderr
    assert cli("ref", "get", "flows/p/f").stdout.strip() == d2
    cli("ref", "rm", "--expect", d2, "flows/p/f")
    assert "flows/p/f" in cli("ref", "rm", "--expect", d2, "flows/p/f", code=1).stderr
    cli("ref", "get", "flows/p/f", code=1)


def test_racing_push_ref_has_only_clean_outcomes(url: str, tmp_path: Path) -> None:
    """Concurrent ``push --ref`` of distinct trees (separate processes): each exits 0 or 3,
    a loser names the ref, and the ref ends at the digest of a push that exited 0."""
    if url.startswith("memory://"):
        url = (tmp_path / "store").as_uri()  # a memory store lives in one process only
    trees = []
    for i in range(4):
        root = tmp_path / f"tree{i}"
        root.mkdir()
        (root / "flow.py").write_text(f"print({i})\n")
        trees.append(root)
    argv = [sys.executable, "-m", "flowpack", "--store", url, "push", "--ref", "flows/race"]

    def push(root: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, str(root)], capture_output=True, text=True, timeout=120, env=dict(os.environ)
        )

    with ThreadPoolExecutor(len(trees)) as pool:
        done = list(pool.map(push, trees))
    assert {p.returncode for p in done} <= {0, 3}, [(p.returncode, p.stderr) for p in done]
    winners = [p.stdout.strip() for p in done if p.returncode == 0]
    assert winners
    for p in done:
        if p.returncode == 3:
            assert "flows/race" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert make_invoker(url)("ref", "get", "flows/race").stdout.strip() in winners
