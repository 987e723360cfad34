"""gc with a short grace while pushes run: no push that exits 0 ever loses its bundle."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_invoke import make_invoker

from flowpack.cas.advance import advance
from flowpack.cas.digest import Digest
from flowpack.cas.gc import collect
from flowpack.cas.opening import open_store
from flowpack.cas.recheck import GcRaced
from flowpack.cas.verify import verify

PUSHES = 16
PUSH = [sys.executable, "-m", "flowpack", "--store"]


def test_gc_grace_0_is_refused_without_force(tree: Path, tmp_path: Path) -> None:
    cli = make_invoker((tmp_path / "s").as_uri())
    cli("push", tree, "--ref", "flows/x")
    line = cli("gc", "--grace", "0", code=2).stderr
    assert "--force" in line and "push" in line and len(line.strip().splitlines()) == 1
    assert cli("gc", "--grace", "0", "--dry-run").stdout.startswith("gc:")
    cli("gc", "--grace", "0", "--force")
    assert cli("verify", "--all", "--read-data").stdout.startswith("ok")


def test_gc_grace_0_looping_with_concurrent_pushes_loses_no_pinned_bundle(
    tmp_path: Path,
) -> None:
    """The attack as filed: 16 pushes (separate processes, distinct content) while
    ``flowpack gc --grace 0`` runs in a loop; every push's bundle verifies afterwards."""
    url = (tmp_path / "store").as_uri()
    cli = make_invoker(url)
    trees = []
    for i in range(PUSHES):
        root = tmp_path / f"t{i}"
        root.mkdir()
        (root / "flow.py").write_text(f"print({i})\n")
        (root / "data.bin").write_bytes(os.urandom(200_000))
        trees.append(root)
    cli("push", trees[0], "--ref", "flows/seed")
    loop = f"while [ ! -e {tmp_path}/stop ]; do {' '.join(PUSH)} {url} gc --grace 0; done"
    gc = subprocess.Popen(["sh", "-c", loop], stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        pushes = [
            subprocess.Popen(
                [*PUSH, url, "push", str(root), "--ref", f"flows/p{i}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i, root in enumerate(trees)
        ]
        outcomes = [(p.wait(timeout=300), *p.communicate()) for p in pushes]
    finally:
        (tmp_path / "stop").touch()
        gc_err = gc.communicate(timeout=120)[1]
    for i, (code, out, err) in enumerate(outcomes):
        assert code == 0, (i, err)
        assert cli("ref", "get", f"flows/p{i}").stdout.strip() == out.strip()
        assert cli("verify", out.strip(), "--read-data", code=None).stdout.startswith("ok"), i
    assert cli("verify", "--all", "--read-data").stdout.startswith("ok")
    assert "refusing gc with a grace of 0s" in gc_err


@pytest.mark.parametrize("sweeps", [1, 2])
def test_a_push_whose_pack_gc_took_before_its_ref_moved_stores_it_again(
    tmp_path: Path, sweeps: int
) -> None:
    """A forced ``gc --grace 0`` condemns (1 run) or deletes (2 runs) a writer's new pack
    between its upload and its ref update: the writer's re-check finds it and stores it
    again, so the ref never points at a lost bundle."""
    url = (tmp_path / "store").as_uri()
    writer, other = open_store(url), open_store(url)
    root = tmp_path / "tree"
    root.mkdir()
    (root / "data.bin").write_bytes(os.urandom(300_000))
    writer.put_tree(root)  # creates the store
    collect(other, grace=0, announce=True)  # a forced short-grace gc announces itself
    writer.sync(force=True)
    takes: list[Digest] = []

    def write(head: Digest | None) -> Digest:
        digest = writer.put_tree(root, parent=head).digest
        if not takes:  # gc strikes once, between the upload and the ref update
            for _ in range(sweeps):
                collect(other, grace=0, announce=True)
        takes.append(digest)
        return digest

    done = advance(writer, "flows/p/f", write, session=False)
    assert len(takes) == 2 and done.moved
    assert verify(open_store(url), [done.digest], read_data=True).ok


def test_a_writer_gc_keeps_taking_from_gives_up_cleanly(tmp_path: Path) -> None:
    url = (tmp_path / "store").as_uri()
    writer, other = open_store(url), open_store(url)
    root = tmp_path / "tree"
    root.mkdir()
    writer.put_tree(root)
    collect(other, grace=0, announce=True)
    writer.sync(force=True)

    def write(head: Digest | None) -> Digest:
        (root / "data.bin").write_bytes(os.urandom(1000))
        digest = writer.put_tree(root, parent=head).digest
        collect(other, grace=0, announce=True)
        collect(other, grace=0, announce=True)
        return digest

    with pytest.raises(GcRaced, match="flows/p/f"):
        advance(writer, "flows/p/f", write, session=False)
    assert writer.refs.get("flows/p/f") is None
