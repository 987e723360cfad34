"""Crash consistency: ``flowpack push --ref`` killed with SIGKILL at random moments.

Each trial pushes a ~2 MB tree into a fresh ``file://`` store, with a small pack target so
that the push writes several packs (``FLOWPACK_PACK_TARGET``), and kills it with SIGKILL after
a random delay within the window in which an undisturbed push writes to the store (widened
before its first write; a kill while the interpreter is still starting tests nothing); one
trial in ten is aimed instead, killed as soon as the first pack appears, so the kills reach the
middle of a push however loaded the machine is.  After
every kill the store must verify clean (reading all data), the ref must be absent or name a
complete bundle, and pushing the same tree again (the CLI, in this process) must succeed and
pull back identical.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from cli_invoke import make_invoker

from flowpack.cas.opening import open_store
from flowpack.cas.restore import restore_tree
from flowpack.cas.store import Store
from flowpack.cas.verify import verify

FLOWPACK = shutil.which("flowpack")
TRIALS = 50
REF = "flows/crash/tree"
PACK_TARGET = 160 << 10  # packs are cut by compressed size: ~2 MB of tree spans several


def make_tree(root: Path) -> Path:
    """~2 MB: many small text files in a few directories, and some large binary files."""
    rng = random.Random(20240601)
    words = [f"word{i}" for i in range(400)]
    for i in range(120):
        d = root / f"pkg{i % 6}" / f"sub{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        lines = (" ".join(rng.choices(words, k=12)) for _ in range(rng.randint(5, 120)))
        (d / f"module_{i}.py").write_text("\n".join(lines) + "\n")
    for i in range(3):
        (root / f"blob{i}.bin").write_bytes(rng.randbytes(400_000))
    (root / "data").mkdir()
    (root / "data" / "table.csv").write_text(
        "".join(f"{i},{i * i},{i % 7}\n" for i in range(20000))
    )
    run = root / "run.sh"
    run.write_text("#!/bin/sh\nexec python pkg0/sub0/module_0.py\n")
    run.chmod(0o755)
    (root / "link").symlink_to("pkg0/sub0/module_0.py")
    return root


def tree_contents(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = p.read_bytes() + (b"+x" if os.access(p, os.X_OK) else b"")
    return out


def push_command(store_dir: Path, tree: Path) -> list[str]:
    assert FLOWPACK, "the flowpack console script is not installed (pip install -e .)"
    return [FLOWPACK, "--store", store_dir.as_uri(), "push", str(tree), "--ref", REF]


def stage_reached(store_dir: Path) -> str:
    """How far a killed push got, judged from what it left in the store."""
    if not (store_dir / "config").exists():
        return "nothing"
    if (store_dir / "refs").exists() and any(p.is_file() for p in (store_dir / "refs").rglob("*")):
        return "ref moved"
    packs = list((store_dir / "packs").glob("*")) if (store_dir / "packs").exists() else []
    index = list((store_dir / "index").glob("*")) if (store_dir / "index").exists() else []
    if index:
        return "indexed, ref not moved"
    return "some packs" if packs else "config only"


def check_store(store: Store, tree: Path, where: Path, context: str) -> None:
    report = verify(store, read_data=True)
    assert report.ok, (context, [p.as_dict() for p in report.problems])
    current = store.refs.get(REF)
    if current is not None:
        out = where / "via-ref"
        restore_tree(store, current, out)
        assert tree_contents(out) == tree_contents(tree), context
        shutil.rmtree(out)


def wait_for_first_pack(store_dir: Path, proc: subprocess.Popen[bytes]) -> float:
    """Poll until the push has written a pack (or ended); seconds waited."""
    started = time.monotonic()
    packs = store_dir / "packs"
    while proc.poll() is None and time.monotonic() - started < 60:
        if packs.exists() and any(packs.iterdir()):
            break
        time.sleep(0.0005)
    return time.monotonic() - started


def write_window(store_dir: Path, started: float) -> tuple[float, float]:
    """When (seconds after ``started``) a push first and last wrote to ``store_dir``."""
    times = [p.stat().st_mtime for p in store_dir.rglob("*") if p.is_file()]
    return min(times) - started, max(times) - started


@pytest.mark.slow
def test_push_killed_at_random_moments(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    expected = tree_contents(tree)
    env = {
        **os.environ,
        "FLOWPACK_CACHE": str(tmp_path / "cache"),
        "FLOWPACK_PACK_TARGET": str(PACK_TARGET),
    }

    # Undisturbed pushes: the digest, that it spans packs, and when a push writes.  Kills are
    # aimed at that window (widened before the first write): a kill while the interpreter is
    # still starting tests nothing.  The second run, with warm caches, sets the window.
    for warm_dir in (tmp_path / "cold", tmp_path / "warm"):
        started = time.time()
        warm = subprocess.run(
            push_command(warm_dir, tree), env=env, capture_output=True, text=True, timeout=60
        )
        assert warm.returncode == 0, warm.stderr
        assert len(list((warm_dir / "packs").iterdir())) >= 4
        first, last = write_window(warm_dir, started)
    digest = warm.stdout.strip()
    margin = 0.25 * (last - first) + 0.02
    low, high = max(0.0, first - margin), last

    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    stages: Counter[str] = Counter()
    killed = 0
    for trial in range(TRIALS):
        store_dir = tmp_path / f"store{trial}"
        delay = rng.uniform(low, high)
        context = (
            f"seed {seed}, trial {trial}, killed after {delay:.3f}s in [{low:.3f}, {high:.3f}]"
        )
        proc = subprocess.Popen(
            push_command(store_dir, tree),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if trial % 10 == 9:  # aimed: at the first pack, whatever this machine's load does
            delay = wait_for_first_pack(store_dir, proc)
            context += f" (aimed: first pack after {delay:.3f}s)"
        else:
            time.sleep(delay)
        proc.kill()
        was_killed = proc.wait(timeout=30) == -9
        killed += was_killed
        if not was_killed:  # finished first: this machine is faster now than the warm-up run
            high = max(low + 0.005, delay * 0.9)
        stage = stage_reached(store_dir)
        stages[stage] += 1

        if stage != "nothing":
            with open_store(store_dir.as_uri(), cache_dir=tmp_path / "cache") as store:
                check_store(store, tree, tmp_path, f"{context}, after the kill ({stage})")

        # The next push (the CLI, in this process) succeeds and pulls back identical.
        invoke = make_invoker(store_dir.as_uri())
        again = invoke("push", tree, "--ref", REF, code=None)
        assert again.exit_code == 0, (context, again.output)
        assert again.stdout.strip() == digest, context
        out = tmp_path / f"pulled{trial}"
        pulled = invoke("pull", REF, out, code=None)
        assert pulled.exit_code == 0, (context, pulled.output)
        assert tree_contents(out) == expected, context
        assert invoke("ref", "get", REF).stdout.strip() == digest, context
        shutil.rmtree(out)
        shutil.rmtree(store_dir)

    # The kills must have landed in the window that matters, not only before or after it.
    assert killed >= TRIALS // 4, (seed, stages)
    assert stages["some packs"] + stages["indexed, ref not moved"] >= 3, (seed, stages)
