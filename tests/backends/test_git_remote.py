"""The git client (ls-remote, exact shallow fetch, trees, push with expected old ids) against
git http-backend with Basic auth, a bare repository over file://, and sshd."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from dulwich.objects import Blob

from flowpack.backends.git import GitCredentials, GitRemote
from flowpack.cas.errors import BackendError, NotFound, PermissionDenied, UnsafePath, UsageError
from servers.gitserver import GitHttpServer, SshServer, commit_files, git, init_bare

TOKEN = "s3cret-token"


@pytest.fixture
def served(git_http_server: GitHttpServer) -> tuple[Path, GitRemote, list[str]]:
    """A served repository with two commits on main, a tag v1 (annotated) on the first."""
    path, url_path = git_http_server.new_repo()
    first = commit_files(path, {"flows/a.py": "A = 1\n", "lib/util.py": "X = 1\n"}, "one")
    git("tag", "-a", "v1", "-m", "v1", first, cwd=path)
    second = commit_files(path, {"flows/a.py": "A = 2\n"}, "two")
    remote = GitRemote(git_http_server.url(url_path, "flowpack", TOKEN))
    return path, remote, [first, second]


def test_refs_resolve_to_commits(served: tuple[Path, GitRemote, list[str]]) -> None:
    _, remote, (first, second) = served
    assert remote.resolve("main") == second
    assert remote.resolve(None) == second  # HEAD
    assert remote.resolve("v1") == first  # annotated tag, peeled
    assert remote.resolve("refs/heads/main") == second
    assert remote.resolve(first) == first
    with pytest.raises(NotFound, match="no branch, tag or ref 'nope'") as info:
        remote.resolve("nope")
    assert TOKEN not in str(info.value)


def test_a_shallow_fetch_holds_exactly_the_commit(
    served: tuple[Path, GitRemote, list[str]],
) -> None:
    _, remote, (first, second) = served
    snap = remote.snapshot("main", depth=1)
    assert snap.commit_id == second
    assert first.encode() not in snap.store  # the parent was not fetched
    assert snap.read_file("flows/a.py") == b"A = 2\n"
    assert snap.read_file("./lib/util.py") == b"X = 1\n"
    assert sorted(p for p, _, _ in snap.walk()) == ["flows/a.py", "lib/util.py"]
    assert remote.snapshot("v1").read_file("flows/a.py") == b"A = 1\n"


def test_bad_paths_and_outward_symlinks_are_refused(
    served: tuple[Path, GitRemote, list[str]], tmp_path: Path, arena: Path
) -> None:
    path, remote, _ = served
    work = tmp_path / "w"
    git("clone", "-q", str(path), str(work))
    os.symlink("../../etc/passwd", work / "flows" / "out.py")
    os.symlink("a.py", work / "flows" / "inside.py")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "links", cwd=work, env={"GIT_AUTHOR_NAME": "t"})
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    snap = remote.snapshot("main")
    assert snap.read_file("flows/inside.py") == b"A = 2\n"
    for bad in ["../x.py", "/etc/passwd", "flows/../../x", ""]:
        with pytest.raises(UnsafePath):
            snap.read_file(bad)
    with pytest.raises(UnsafePath, match=r"symlink 'flows/out\.py' points outside"):
        snap.read_file("flows/out.py")
    with pytest.raises(NotFound, match=r"no file 'flows/missing\.py' at commit"):
        snap.read_file("flows/missing.py")
    with pytest.raises(UsageError, match="is a directory"):
        snap.read_file("flows")
    dest = arena / "dest"
    dest.mkdir()
    with pytest.raises(UnsafePath):
        snap.materialise(dest)
    assert sorted(p.name for p in arena.iterdir()) == ["canary.txt", "dest"]
    assert list(dest.iterdir()) == []
    assert (tmp_path / "etc" / "passwd").read_text() == "root:x:0:0\n"


def test_files_over_the_limit_stay_on_the_server(
    served: tuple[Path, GitRemote, list[str]],
) -> None:
    path, remote, _ = served
    commit_files(path, {"big.bin": os.urandom(300_000)})
    snap = remote.snapshot("main", max_file=100_000)
    with pytest.raises(UsageError, match=r"big\.bin"):
        snap.read_file("big.bin")
    assert snap.read_file("flows/a.py") == b"A = 2\n"


def test_wrong_token_missing_repo_and_unreachable_host(git_http_server: GitHttpServer) -> None:
    _, url_path = git_http_server.new_repo()
    bad = GitRemote(git_http_server.url(url_path, "flowpack", "wrong-token-123"))
    with pytest.raises(PermissionDenied, match="credentials were rejected") as denied:
        bad.ls_remote()
    assert "wrong-token-123" not in str(denied.value)
    missing = GitRemote(git_http_server.url("/absent.git", "flowpack", TOKEN))
    with pytest.raises(NotFound, match="no git repository"):
        missing.ls_remote()
    with pytest.raises(BackendError, match="unreachable") as down:
        GitRemote(f"http://flowpack:{TOKEN}@127.0.0.1:9/x.git").ls_remote()
    assert TOKEN not in str(down.value)
    with pytest.raises(UsageError):
        GitRemote("ftp://host/x.git")


def test_push_compares_the_old_id(served: tuple[Path, GitRemote, list[str]]) -> None:
    _, remote, (first, second) = served
    one, two = Blob.from_string(b"1"), Blob.from_string(b"2")
    ref = "refs/flowpack/refs/t@"
    assert remote.push({ref: (None, one.id.decode())}, [one])
    assert not remote.push({ref: (None, two.id.decode())}, [two])  # exists already
    assert remote.push({ref: (one.id.decode(), two.id.decode())}, [two])
    assert not remote.push({ref: (one.id.decode(), one.id.decode())}, [one])  # stale
    assert remote.ls_remote(ref) == {ref: two.id.decode()}
    # receive.denyNonFastForwards: the server itself refuses rewinding main
    assert not remote.push({"refs/heads/main": (second, first)})
    assert remote.resolve("main") == second


def test_file_urls(tmp_path: Path) -> None:
    repo = init_bare(tmp_path / "r.git")
    commit = commit_files(repo, {"f.py": "F = 1\n"})
    remote = GitRemote(f"file://{repo}")
    assert remote.resolve("main") == commit
    assert remote.snapshot("main").read_file("f.py") == b"F = 1\n"
    with pytest.raises(NotFound):
        GitRemote(f"file://{tmp_path}/absent.git").ls_remote()


def test_ssh(ssh_server: SshServer, tmp_path: Path) -> None:
    repo = init_bare(tmp_path / "s.git")
    commit = commit_files(repo, {"f.py": "S = 1\n"})
    remote = GitRemote(ssh_server.url(repo), GitCredentials(ssh_command=ssh_server.ssh_command()))
    assert remote.resolve("main") == commit
    assert remote.snapshot("main").read_file("f.py") == b"S = 1\n"
    blob = Blob.from_string(b"x")
    assert remote.push({"refs/flowpack/refs/s@": (None, blob.id.decode())}, [blob])
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    denied = GitRemote(
        ssh_server.url(repo), GitCredentials(ssh_command=ssh_server.ssh_command(stranger))
    )
    with pytest.raises(PermissionDenied, match="access denied"):
        denied.ls_remote()


def test_ssh_command_comes_from_the_environment(
    ssh_server: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = init_bare(tmp_path / "e.git")
    commit = commit_files(repo, {"f.py": "E = 1\n"})
    monkeypatch.setenv("GIT_SSH_COMMAND", ssh_server.ssh_command())
    assert GitRemote(ssh_server.url(repo)).resolve("main") == commit


def test_a_connection_dropped_mid_request_is_one_clear_error(
    served: tuple[Path, GitRemote, list[str]], git_http_server: GitHttpServer
) -> None:
    _, remote, _ = served
    git_http_server.drop_next(100)  # more than urllib3's retries
    with pytest.raises(BackendError) as info:
        remote.snapshot("main")
    git_http_server.drop_next(0)
    assert "\n" not in str(info.value) and TOKEN not in str(info.value)
    assert remote.snapshot("main").read_file("flows/a.py") == b"A = 2\n"  # next time it works


def test_a_git_ssh_store(ssh_server: SshServer, tmp_path: Path) -> None:
    from flowpack.backends.git.location import open_git
    from flowpack.cas.digest import Digest

    repo = init_bare(tmp_path / "store.git")
    url = "git+" + ssh_server.url(repo)
    with open_git(url, ssh_command=ssh_server.ssh_command()) as location:
        location.blobs.put("config", b"cfg")
        assert location.blobs.get("config") == b"cfg"
        assert location.refs.compare_and_set("tags/t", Digest.of(b"x"), None)
        assert [n for n, _ in location.refs.iter_refs()] == ["tags/t"]
    assert "refs/flowpack/refs/tags/t@" in git("for-each-ref", cwd=repo)


def test_open_git_refuses_bad_urls_and_options(tmp_path: Path) -> None:
    from flowpack.backends.git.location import open_git

    with pytest.raises(UsageError):
        open_git("file:///x")
    with pytest.raises(UsageError, match="no option colour"):
        open_git(f"git+file://{tmp_path}", colour="red")
    with pytest.raises(NotFound):
        open_git(f"git+file://{tmp_path}/absent.git")
