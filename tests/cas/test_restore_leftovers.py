"""A pull killed outright leaves its staging directory; the next pull into DEST removes it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from flowpack.cas.opening import open_store
from flowpack.cas.restore import STAGE_PREFIX, _stage_prefix, restore_tree, sweep_stale_stages

FLOWPACK = shutil.which("flowpack")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_pull_killed_mid_way_leaves_nothing_after_the_next_pull(tmp_path: Path) -> None:
    assert FLOWPACK, "the flowpack console script is not installed (pip install -e .)"
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(60):
        (tree / f"f{i}.bin").write_bytes(os.urandom(1 << 20))
    store = ["--store", (tmp_path / "store").as_uri()]
    env = {**os.environ, "FLOWPACK_CACHE": str(tmp_path / "cache")}
    subprocess.run([FLOWPACK, *store, "push", str(tree), "--ref", "t"], env=env, check=True)
    dest = tmp_path / "dest"
    dest.mkdir()
    proc = subprocess.Popen([FLOWPACK, *store, "pull", "t", str(dest)], env=env)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        stages = [p for p in dest.iterdir() if p.name.startswith(STAGE_PREFIX)]
        if stages and any(stages[0].iterdir()):
            break
        time.sleep(0.001)
    proc.kill()
    assert proc.wait() == -9, "the pull finished before it could be killed"
    left = [p.name for p in dest.iterdir() if p.name.startswith(STAGE_PREFIX)]
    assert left, "a killed pull leaves its staging directory"
    subprocess.run([FLOWPACK, *store, "pull", "t", str(dest)], env=env, check=True)
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in tree.iterdir())


def test_sweep_keeps_live_restores_user_folders_and_other_hosts(tmp_path: Path) -> None:
    dead, live = _dead_pid(), os.getpid()
    stale = tmp_path / f"{_stage_prefix(dead)}abc"
    running = tmp_path / f"{_stage_prefix(live)}def"
    users = tmp_path / f"{_stage_prefix(dead)}mine"
    other_host = tmp_path / f"{STAGE_PREFIX}0000000-{dead}-xyz"
    for folder in (stale, running, users, other_host):
        folder.mkdir()
        (folder / "0").write_bytes(b"staged")
    (users / "notes.txt").write_text("a user's own file")
    (stale / "spill-k2j4").write_bytes(b"frames a killed restore kept on disk")
    named_in_bundle = tmp_path / f"{_stage_prefix(dead)}kept"
    named_in_bundle.mkdir()
    removed = sweep_stale_stages(tmp_path, keep={named_in_bundle.name})
    assert removed == [stale.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (running, users, other_host, named_in_bundle)
    )


def test_a_restore_sweeps_before_it_stages(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("a")
    dest = tmp_path / "dest"
    stale = dest / f"{_stage_prefix(_dead_pid())}abc"
    stale.mkdir(parents=True)
    (stale / "0").write_bytes(b"half a file")
    with open_store((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache") as store:
        restore_tree(store, store.put_tree(tree).digest, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["a.txt"]
