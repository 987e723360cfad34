"""``flowpack serve`` killed in the middle of a push: the client reports it in one line,
nothing partial is visible, and a retry against the restarted server completes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import blake3

from servers.httpserver import SERVE, start_flowpack_server


def make_tree(root: Path) -> Path:
    rng = random.Random(7)
    for i in range(16):
        (root / f"d{i % 4}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i % 4}" / f"f{i}.bin").write_bytes(rng.randbytes(512 * 1024))
    return root


def test_kill_the_server_mid_push_then_retry(tmp_path: Path) -> None:
    server = start_flowpack_server(tmp_path / "server")
    tree = make_tree(tmp_path / "tree")
    env = {
        **os.environ,
        "FLOWPACK_TOKEN": server.tokens["write"],
        "FLOWPACK_PACK_TARGET": str(128 << 10),
        "FLOWPACK_CACHE": str(tmp_path / "cache"),
    }
    argv = [sys.executable, "-c", SERVE, "--store", server.url, "push", str(tree), "--ref", "x"]
    try:
        push = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        packs = server.store / "packs"
        deadline = time.monotonic() + 60
        while not (packs.exists() and any(packs.iterdir())):
            assert push.poll() is None, "the push ended before the server was killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        server.process.kill()
        _, err = push.communicate(timeout=120)
        assert push.returncode != 0
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("flowpack: error:"), err
        assert server.tokens["write"] not in err.decode()

        # Nothing partial is visible: no ref, and every stored pack is whole.
        assert not any(p.is_file() for p in (server.store / "refs").rglob("*"))
        for pack in packs.iterdir():
            if not pack.name.startswith("."):
                assert blake3.blake3(pack.read_bytes()).hexdigest() == pack.name

        server.process.restart()
        retry = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert retry.returncode == 0, retry.stderr
        out = tmp_path / "out"
        pull = [sys.executable, "-c", SERVE, "--store", server.url, "pull", "x", str(out)]
        assert subprocess.run(pull, env=env, capture_output=True, timeout=120).returncode == 0
        for path in tree.rglob("*.bin"):
            assert (out / path.relative_to(tree)).read_bytes() == path.read_bytes()
        verify = [sys.executable, "-c", SERVE, "--store", server.url, "verify", "--read-data"]
        checked = subprocess.run(verify, env=env, capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        server.process.stop()
