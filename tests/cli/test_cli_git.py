"""The CLI end to end over a git store served by git http-backend: push, pull, verify, and the
repository still clones with git."""

from __future__ import annotations

import json
from pathlib import Path

from cli_invoke import make_invoker

from servers.gitserver import GitHttpServer, git


def test_push_pull_verify_through_git_http(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    repo, url_path = git_http_server.new_repo()
    store = "git+" + git_http_server.url(url_path, "flowpack", "s3cret-token")
    invoke = make_invoker(store)
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "flow.py").write_text("print('hi')\n")
    (src / "data.bin").write_bytes(bytes(range(256)) * 1000)
    pushed = json.loads(invoke("push", src, "--ref", "x", json=True).output)
    out = invoke("pull", "x", tmp_path / "out")
    assert (tmp_path / "out" / "pkg" / "flow.py").read_text() == "print('hi')\n"
    assert (tmp_path / "out" / "data.bin").read_bytes() == (src / "data.bin").read_bytes()
    assert "s3cret-token" not in out.output + json.dumps(pushed)
    assert invoke("verify").exit_code == 0
    (src / "pkg" / "flow.py").write_text("print('hi again')\n")
    invoke("push", src, "--ref", "x")
    assert invoke("verify", "--all").exit_code == 0
    # gc over git: an unreachable pushed bundle goes, everything a ref reaches stays.
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "x.bin").write_bytes(b"unreferenced " * 5000)
    invoke("push", tmp_path / "loose")
    first = json.loads(invoke("gc", "--grace", "0", "--force", json=True).output)
    second = json.loads(invoke("gc", "--grace", "0", "--force", json=True).output)
    assert first["condemned"] and second["deleted"] == first["condemned"]  # two-phase
    assert invoke("verify", "--all").exit_code == 0
    invoke("pull", "x", tmp_path / "again")
    assert (tmp_path / "again" / "pkg" / "flow.py").read_text() == "print('hi again')\n"
    clone = tmp_path / "clone"
    git("clone", "-q", "--mirror", str(repo), str(clone))
    assert "refs/flowpack/refs/x@" in git("for-each-ref", cwd=clone)
    git("fsck", "--strict", cwd=clone)


def test_sixteen_concurrent_ref_set_expect_have_one_winner(
    git_http_server: GitHttpServer, tmp_path: Path
) -> None:
    """16 ``flowpack ref set --expect`` processes at once through git: one wins, 15 exit 3."""
    import os
    import shutil
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    _, url_path = git_http_server.new_repo()
    store = "git+" + git_http_server.url(url_path, "flowpack", "s3cret-token")
    invoke = make_invoker(store)
    digests = []
    for i in range(17):
        (tmp_path / f"v{i}").mkdir()
        (tmp_path / f"v{i}" / "f.txt").write_text(f"version {i}\n")
        digests.append(json.loads(invoke("push", tmp_path / f"v{i}", json=True).output)["digest"])
    invoke("ref", "set", "race", digests[0], "--create")
    exe = shutil.which("flowpack")
    assert exe, "the flowpack console script is not installed (pip install -e .)"
    env = {**os.environ, "FLOWPACK_CACHE": str(tmp_path / "cache")}

    def attempt(i: int) -> int:
        argv = [exe, "--store", store, "ref", "set", "race", digests[i + 1], "--expect", digests[0]]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert "s3cret-token" not in done.stdout + done.stderr
        return done.returncode

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(attempt, range(16)))
    assert sorted(codes) == [0] + [3] * 15, codes
    winner = digests[1 + codes.index(0)]
    assert winner in invoke("ref", "get", "race").output


def test_a_bad_git_store_is_one_clear_line(git_http_server: GitHttpServer, tmp_path: Path) -> None:
    _, url_path = git_http_server.new_repo()
    cases = {
        "git+" + git_http_server.url(url_path, "flowpack", "wrong-pass-77"): "rejected",
        "git+"
        + git_http_server.url("/absent.git", "flowpack", "s3cret-token"): "no git repository",
        "git+http://flowpack:s3cret-token@127.0.0.1:9/x.git": "unreachable",
    }
    for url, words in cases.items():
        out = make_invoker(url)("ref", "ls", code=1).output
        assert out.count("\n") == 1 and words in out, out
        assert "wrong-pass-77" not in out and "s3cret-token" not in out
