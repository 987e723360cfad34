"""Eight ``flowpack`` processes pushing overlapping trees into one store and racing on one ref.

Each racer pushes its own tree (most files shared with the others, so the same chunks are
written concurrently), then loops like a careful client: read the ref (``flowpack ref get``),
then ``flowpack ref set NAME DIGEST --expect OLD``; exit 0 means it won, exit 3 means it lost
and stderr names the ref's current value, and it tries again.  No update may be lost: the
winners' (old, new) pairs must form one chain from the initial value to the final one, and
every loss must name a value that the chain reached after the one the loser expected.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flowpack.cas.opening import open_store
from flowpack.cas.restore import restore_tree
from flowpack.cas.verify import verify as verify_store

FLOWPACK = shutil.which("flowpack")
RACERS = 8
MAX_ATTEMPTS = 40
REF = "flows/race/main"
_NOW = re.compile(r"now points at (blake3:[0-9a-f]{64})")


def run(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    assert FLOWPACK, "the flowpack console script is not installed (pip install -e .)"
    return subprocess.run(
        [FLOWPACK, *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )


@dataclass
class Racer:
    """What one racing process saw."""

    index: int
    tree: Path
    digest: str = ""
    won: tuple[str, str] | None = None
    losses: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def race(self, env: dict[str, str]) -> None:
        push = run(env, "push", self.tree)
        if push.returncode != 0:
            self.errors.append(f"push failed: {push.stderr}")
            return
        self.digest = push.stdout.strip()
        for _ in range(MAX_ATTEMPTS):
            get = run(env, "ref", "get", REF)
            if get.returncode != 0:
                self.errors.append(f"ref get failed: {get.stderr}")
                return
            old = get.stdout.strip()
            cas = run(env, "ref", "set", REF, self.digest, "--expect", old)
            if cas.returncode == 0:
                self.won = (old, self.digest)
                return
            lines = cas.stderr.splitlines()
            named = _NOW.search(cas.stderr)
            if cas.returncode != 3 or len(lines) != 1 or named is None or cas.stdout:
                self.errors.append(f"lost race reported badly ({cas.returncode}): {cas.stderr}")
                return
            self.losses.append((old, named.group(1)))
        self.errors.append(f"never won in {MAX_ATTEMPTS} attempts")


def make_trees(root: Path) -> list[Path]:
    """A shared project, and one copy per racer with its own file and one edited module."""
    rng = random.Random(5)
    common = root / "common"
    for i in range(40):
        d = common / f"pkg{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mod{i}.py").write_text(f"VALUE_{i} = {i}\n" + "x = 1\n" * rng.randint(1, 400))
    (common / "assets.bin").write_bytes(rng.randbytes(400_000))
    trees = []
    for r in range(RACERS):
        tree = root / f"tree{r}"
        shutil.copytree(common, tree, symlinks=True)
        (tree / f"racer_{r}.py").write_text(f"RACER = {r}\n")
        (tree / "pkg0" / "mod0.py").write_text(f"VALUE_0 = {r * 1000}\n")
        trees.append(tree)
    return trees


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWPACK_STORE": (tmp_path / "store").as_uri(),
        "FLOWPACK_CACHE": str(tmp_path / "cache"),
    }


@pytest.mark.slow
def test_racing_processes_lose_no_update(tmp_path: Path, env: dict[str, str]) -> None:
    trees = make_trees(tmp_path / "trees")
    initial = run(env, "push", tmp_path / "trees" / "common", "--ref", REF)
    assert initial.returncode == 0, initial.stderr
    v0 = initial.stdout.strip()

    racers = [Racer(i, tree) for i, tree in enumerate(trees)]
    threads = [threading.Thread(target=r.race, args=(env,)) for r in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert [r.errors for r in racers] == [[] for _ in racers]

    # Every racer won exactly once, from a distinct old value: the wins form one chain.
    wins = {r.won[0]: r.won[1] for r in racers if r.won}
    assert len(wins) == RACERS, "two winners expected the same value: an update was lost"
    chain = [v0]
    while chain[-1] in wins:
        chain.append(wins[chain[-1]])
    assert len(chain) == RACERS + 1, chain
    assert set(chain[1:]) == {r.digest for r in racers}
    final = run(env, "ref", "get", REF)
    assert final.stdout.strip() == chain[-1]

    # Every loss named a later value than the one expected.
    position = {v: i for i, v in enumerate(chain)}
    for r in racers:
        for old, now in r.losses:
            assert now in position, (old, now)
            assert position[now] > position[old], (old, now)
    assert sum(len(r.losses) for r in racers) > 0, "the racers never actually raced"

    verify = run(env, "verify", "--read-data")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with open_store(env["FLOWPACK_STORE"], cache_dir=tmp_path / "check-cache") as store:
        assert verify_store(store, read_data=True).ok
        for r in racers:
            out = tmp_path / f"out{r.index}"
            restore_tree(store, store.resolve(r.digest), out)
            assert (out / f"racer_{r.index}.py").read_text() == f"RACER = {r.index}\n"
            assert (out / "assets.bin").read_bytes() == (r.tree / "assets.bin").read_bytes()
