"""The git seed classes: every documented argument, each host's URL and token form, and flows
packed from a commit served by git http-backend (never from a working tree)."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flowfixtures import FLOW, HELPERS, UTIL, expected

from flowpack.cas.errors import (
    BackendError,
    FlowError,
    FlowpackError,
    NotFound,
    PermissionDenied,
    UnsafePath,
    UsageError,
)
from flowpack.cas.store import Store
from flowpack.packer.bundle import read_bundle
from flowpack.packer.run import execute
from flowpack.storage import Bitbucket, CodeCommit, Git, GitHub, GitLab
from flowpack.storage.codecommit import codecommit_password
from flowpack.storage.git import GitStorage
from servers.gitserver import GitHttpServer, SshServer, commit_files, init_bare

AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def publish(repo: Path, offset: int = 1, extra: dict[str, str] | None = None) -> str:
    """Commit the sample project (flows/etl.py importing a helper and lib.util) to ``repo``."""
    files = {
        "flows/etl.py": FLOW,
        "flows/helpers.py": HELPERS.replace("OFFSET = 1", f"OFFSET = {offset}"),
        "lib/__init__.py": "",
        "lib/util.py": UTIL,
        "README.md": "a repository\n",
        **(extra or {}),
    }
    return commit_files(repo, files, f"offset {offset}")


def register(storage: GitStorage, store: Store) -> tuple[Any, dict[str, Any]]:
    """add_flow then get_flow; the flow's result and the bundle's git metadata."""
    storage.bind(store)
    location = storage.add_flow(SimpleNamespace(name="etl"))
    assert location == storage.repo_path  # the seed: add_flow returns the flow's path
    assert storage.get_flow(location) is not None
    flow = storage.get_flow("etl")
    bundle = read_bundle(store, store.resolve(storage.digest_of("etl")))
    loaded_result = execute(flow, {})
    return list(loaded_result.values())[-1], dict(bundle.info["git"])


def test_every_documented_argument_is_accepted() -> None:
    Git(
        flow_path="flows/f.py",
        repo="org/repo",
        repo_host="github.com",
        flow_name="f",
        git_token_secret_name="T",
        git_token_username="me",
        git_clone_url_secret_name=None,
        branch_name="main",
        tag=None,
        commit=None,
        clone_depth=2,
        use_ssh=False,
        format_access_token=True,
        labels=["x"],
    )
    GitHub(repo="o/r", path="f.py", ref="main", access_token_secret="T", base_url=None)
    GitLab(repo="o/r", host=None, path="f.py", ref="main", access_token_secret="T")
    Bitbucket(
        project="P",
        repo="r",
        workspace=None,
        host="bb.example.com",
        path="f.py",
        ref="main",
        access_token_secret="T",
        cloud_username_secret=None,
        cloud_app_password_secret=None,
    )
    CodeCommit(repo="r", path="f.py", commit="main", client_options={"region_name": "eu-west-1"})


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: Git(flow_path="f.py", repo="o/r", **kw),
        lambda **kw: GitHub(repo="o/r", path="f.py", **kw),
        lambda **kw: GitLab(repo="o/r", path="f.py", **kw),
        lambda **kw: Bitbucket(project="P", repo="r", host="h", path="f.py", **kw),
        lambda **kw: CodeCommit(repo="r", path="f.py", **kw),
    ],
)
def test_all_are_script_storage(make: Any) -> None:
    assert make().stored_as_script is True
    assert make(stored_as_script=True).stored_as_script is True
    with pytest.raises(ValueError, match="only supports script-based storage"):
        make(stored_as_script=False)


def test_argument_conflicts_are_refused() -> None:
    with pytest.raises(ValueError, match="at most one of branch_name, tag and commit"):
        Git(flow_path="f.py", repo="o/r", branch_name="a", tag="b")
    with pytest.raises(ValueError, match="repo or git_clone_url_secret_name"):
        Git(flow_path="f.py")
    with pytest.raises(ValueError, match="not access_token_secret"):
        Bitbucket(project="P", repo="r", workspace="w", access_token_secret="T")


def test_clone_urls_and_token_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOK", "t0ken-value")
    monkeypatch.setenv("BB_USER", "bob")
    monkeypatch.setenv("BB_PASS", "app-pass")
    gh = GitHub(repo="org/repo", path="f.py", access_token_secret="TOK")
    assert gh.clone_url() == "https://github.com/org/repo.git"
    assert (gh.credentials().username, gh.credentials().password) == (
        "x-access-token",
        "t0ken-value",
    )
    ghe = GitHub(repo="org/repo", path="f.py", base_url="https://ghe.example.com/api/v3")
    assert ghe.clone_url() == "https://ghe.example.com/org/repo.git"
    gl = GitLab(repo="grp/proj", path="f.py", access_token_secret="TOK")
    assert gl.clone_url() == "https://gitlab.com/grp/proj.git"
    assert gl.credentials().username == "oauth2"
    bbs = Bitbucket(
        project="PRJ", repo="r", host="bb.example.com", path="f", access_token_secret="TOK"
    )
    assert bbs.clone_url() == "https://bb.example.com/scm/PRJ/r.git"
    assert bbs.credentials().username == "x-token-auth"
    assert bbs.git_ref() == "master"  # the seed's default
    bbc = Bitbucket(
        project="PRJ",
        repo="r",
        workspace="ws",
        path="f",
        cloud_username_secret="BB_USER",
        cloud_app_password_secret="BB_PASS",
    )
    assert bbc.clone_url() == "https://bitbucket.org/ws/r.git"
    assert (bbc.credentials().username, bbc.credentials().password) == ("bob", "app-pass")
    git = Git(flow_path="f.py", repo="org/repo", git_token_secret_name="TOK")
    assert git.clone_url() == "https://github.com/org/repo.git"
    assert git.credentials().username == "x-access-token"
    lab = Git(
        flow_path="f.py",
        repo="org/repo",
        repo_host="gitlab.example.com",
        git_token_secret_name="TOK",
    )
    assert lab.credentials().username == "oauth2"
    own = Git(
        flow_path="f.py", repo="org/repo", repo_host="git.example.com", git_token_secret_name="TOK"
    )
    assert own.credentials().username == "org"  # the repository's owner
    raw = Git(flow_path="f.py", repo="o/r", git_token_secret_name="TOK", format_access_token=False)
    assert (raw.credentials().username, raw.credentials().password) == ("t0ken-value", "")
    ssh = Git(flow_path="f.py", repo="org/repo", use_ssh=True, git_token_secret_name="TOK")
    assert ssh.clone_url() == "git@github.com:org/repo.git"
    assert ssh.credentials().password is None
    assert Git(flow_path="f", repo="o/r", tag="v1").git_ref() == "refs/tags/v1"
    assert Git(flow_path="f", repo="o/r", branch_name="dev").git_ref() == "refs/heads/dev"
    assert "t0ken-value" not in repr(gh.credentials())


def test_codecommit_urls_and_sigv4_credentials_match_botocore() -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    options = {
        "region_name": "eu-west-1",
        "aws_access_key_id": AKID,
        "aws_secret_access_key": SECRET,
    }
    cc = CodeCommit(repo="my-repo", path="f.py", client_options=options)
    assert cc.clone_url() == "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/my-repo"
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    creds = cc.credentials(when)
    host, path = "git-codecommit.eu-west-1.amazonaws.com", "/v1/repos/my-repo"
    request = AWSRequest(method="GIT", url=f"https://{host}{path}")
    request.context["timestamp"] = "20260102T030405"
    signer = SigV4Auth(Credentials(AKID, SECRET), "codecommit", "eu-west-1")
    to_sign = signer.string_to_sign(request, f"GIT\n{path}\n\nhost:{host}\n\nhost\n")
    assert creds.username == AKID
    assert creds.password == f"20260102T030405Z{signer.signature(to_sign, request)}"
    with_token = CodeCommit(repo="r", client_options={**options, "aws_session_token": "SESS"})
    assert with_token.credentials(when).username == f"{AKID}%SESS"
    other = CodeCommit(repo="r", client_options={**options, "endpoint_url": "https://vpce.example"})
    assert other.clone_url() == "https://vpce.example/v1/repos/r"


def test_codecommit_needs_no_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only botocore, which the s3 extra brings (a Prefect 1.x environment has no boto3)."""
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 raises ImportError
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    cc = CodeCommit(repo="r", path="f.py")
    assert cc.clone_url() == "https://git-codecommit.ap-south-1.amazonaws.com/v1/repos/r"
    assert cc.credentials().username == AKID


def test_github_packs_the_served_commit(
    git_http_server: GitHttpServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = git_http_server.new_repo("org/gh")
    git_http_server.allow("x-access-token", "ghs_github_token")
    commit = publish(repo, offset=1)
    publish_later = publish(repo, offset=7)  # the branch moves on; a tag pins the first
    monkeypatch.setenv("GH_TOK", "ghs_github_token")
    api = git_http_server.endpoint + "/api/v3"
    storage = GitHub(
        repo="org/gh", path="flows/etl.py", ref=commit, access_token_secret="GH_TOK", base_url=api
    )
    result, info = register(storage, store)
    assert result == expected(1)
    assert info["commit"] == commit and info["path"] == "flows/etl.py"
    assert "ghs_github_token" not in json.dumps(info)
    latest = GitHub(repo="org/gh", path="flows/etl.py", access_token_secret="GH_TOK", base_url=api)
    result, info = register(latest, store)
    assert result == expected(7) and info["commit"] == publish_later


def test_gitlab_by_path_and_by_project_id(
    git_http_server: GitHttpServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = git_http_server.new_repo("grp/lab")
    git_http_server.allow("oauth2", "glpat-gitlab-token")
    git_http_server.answer_json(
        "/api/v4/projects/4242", "glpat-gitlab-token", {"path_with_namespace": "grp/lab"}
    )
    commit = publish(repo, offset=3)
    monkeypatch.setenv("GL_TOK", "glpat-gitlab-token")
    host = git_http_server.endpoint
    by_path = GitLab(
        repo="grp/lab", host=host, path="flows/etl.py", ref="main", access_token_secret="GL_TOK"
    )
    assert register(by_path, store)[0] == expected(3)
    before = git_http_server.api_requests
    by_id = GitLab(repo="4242", host=host, path="flows/etl.py", access_token_secret="GL_TOK")
    by_id.bind(store)
    by_id.add_flow(SimpleNamespace(name="etl"))
    assert git_http_server.api_requests == before + 1  # one REST call
    assert by_id.flows["etl"] == "flows/etl.py"  # the seed: the location is the path
    assert read_bundle(store, store.resolve(by_id.digest_of("etl"))).info["git"]["commit"] == commit
    with pytest.raises(NotFound, match="no project 999"):
        GitLab(repo="999", host=host, path="f.py", access_token_secret="GL_TOK").clone_url()
    monkeypatch.setenv("GL_TOK", "wrong")
    with pytest.raises(PermissionDenied, match="refused the token"):
        by_id.clone_url()


def test_bitbucket_server_and_cloud(
    git_http_server: GitHttpServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_repo, _ = git_http_server.new_repo("scm/PRJ/flows")
    cloud_repo, _ = git_http_server.new_repo("ws/flows")
    git_http_server.allow("x-token-auth", "bb-server-token")
    git_http_server.allow("bob", "bb-app-password")
    publish(server_repo, offset=4)
    publish(cloud_repo, offset=5)
    monkeypatch.setenv("BB_TOK", "bb-server-token")
    monkeypatch.setenv("BITBUCKET_CLOUD_USERNAME", "bob")
    monkeypatch.setenv("BITBUCKET_CLOUD_APP_PASSWORD", "bb-app-password")
    host = git_http_server.endpoint
    server = Bitbucket(
        project="PRJ",
        repo="flows",
        host=host,
        path="flows/etl.py",
        ref="main",
        access_token_secret="BB_TOK",
    )
    assert register(server, store)[0] == expected(4)
    cloud = Bitbucket(
        project="PRJ", repo="flows", workspace="ws", host=host, path="flows/etl.py", ref="main"
    )
    assert register(cloud, store)[0] == expected(5)


def test_codecommit_over_git_with_derived_credentials(
    git_http_server: GitHttpServer, store: Store
) -> None:
    repo, _ = git_http_server.new_repo("v1/repos/cc-flows", suffix="")
    host = git_http_server.endpoint.removeprefix("http://")

    def check(user: str, password: str) -> bool:  # what the service does: re-sign and compare
        stamp, _, _sig = password.partition("Z")
        try:
            when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%S")
        except ValueError:
            return False
        again = codecommit_password(SECRET, "us-east-1", host, "/v1/repos/cc-flows", when)
        return user == AKID and password == again

    git_http_server.verify(check)
    commit = publish(repo, offset=6)
    options = {
        "region_name": "us-east-1",
        "endpoint_url": git_http_server.endpoint,
        "aws_access_key_id": AKID,
        "aws_secret_access_key": SECRET,
    }
    storage = CodeCommit(repo="cc-flows", path="flows/etl.py", client_options=options)
    result, info = register(storage, store)
    assert result == expected(6) and info["commit"] == commit
    wrong = CodeCommit(
        repo="cc-flows",
        path="flows/etl.py",
        client_options={**options, "aws_secret_access_key": "nope"},
    )
    with pytest.raises(PermissionDenied):
        wrong.snapshot()


def test_git_with_a_clone_url_secret_over_file_and_ssh(
    tmp_path: Path, store: Store, ssh_server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = init_bare(tmp_path / "plain.git")
    publish(repo, offset=8)
    monkeypatch.setenv("CLONE_URL", f"file://{repo}")
    storage = Git(flow_path="flows/etl.py", git_clone_url_secret_name="CLONE_URL", flow_name="etl")
    assert register(storage, store)[0] == expected(8)
    monkeypatch.setenv("GIT_SSH_COMMAND", ssh_server.ssh_command())
    monkeypatch.setenv("CLONE_URL", ssh_server.url(repo))
    over_ssh = Git(flow_path="flows/etl.py", git_clone_url_secret_name="CLONE_URL", clone_depth=2)
    assert register(over_ssh, store)[0] == expected(8)
    host = ssh_server.url(repo).removesuffix(str(repo))  # ssh://user@127.0.0.1:PORT
    use_ssh = Git(
        flow_path="flows/etl.py",
        repo=str(repo).lstrip("/").removesuffix(".git"),
        repo_host=host,
        use_ssh=True,
        git_token_secret_name="IGNORED_WITH_SSH",
    )
    assert use_ssh.clone_url() == f"{host}{repo}"
    assert register(use_ssh, store)[0] == expected(8)


def test_declared_extra_files_come_from_the_commit(
    git_http_server: GitHttpServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = git_http_server.new_repo("org/extras")
    git_http_server.allow("x-access-token", "extras-token")
    publish(repo, extra={"data/table.csv": "a,b\n1,2\n"})
    monkeypatch.setenv("EXTRAS_TOK", "extras-token")
    storage = GitHub(
        repo="org/extras",
        path="flows/etl.py",
        access_token_secret="EXTRAS_TOK",
        base_url=git_http_server.endpoint,
        include=["data/*.csv"],
    )
    storage.bind(store)
    storage.add_flow(SimpleNamespace(name="etl"))
    bundle = read_bundle(store, store.resolve(storage.digest_of("etl")))
    files = [f.path for f in bundle.manifest.files]
    follow = bundle.info["git"]["follow"]  # how a run rebuilds the storage: no secret values
    assert follow["class"] == "GitHub" and follow["args"]["include"] == ["data/*.csv"]
    assert follow["args"]["access_token_secret"] == "EXTRAS_TOK"
    assert "extras-token" not in json.dumps(bundle.info)
    assert files == [
        "data/table.csv",
        "flows/etl.py",
        "flows/helpers.py",
        "lib/__init__.py",
        "lib/util.py",
    ]


def test_git_https_with_a_token_and_tags(
    git_http_server: GitHttpServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = git_http_server.new_repo("team/gitrepo")
    git_http_server.allow("team", "plain-git-token")
    first = publish(repo, offset=2)
    from servers.gitserver import git

    git("tag", "v2", first, cwd=repo)
    publish(repo, offset=9)
    monkeypatch.setenv("GIT_TOK", "plain-git-token")
    storage = Git(
        flow_path="flows/etl.py",
        repo="team/gitrepo",
        repo_host=git_http_server.endpoint,
        git_token_secret_name="GIT_TOK",
        tag="v2",
    )
    result, info = register(storage, store)
    assert result == expected(2) and info["commit"] == first


def test_bad_input_is_one_clear_line(
    git_http_server: GitHttpServer, store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo, _ = git_http_server.new_repo("org/bad")
    git_http_server.allow("x-access-token", "good-token-1")
    publish(repo, extra={"flows/escape.py": "import os\n"})
    api = git_http_server.endpoint + "/api/v3"
    monkeypatch.setenv("GOOD", "good-token-1")
    monkeypatch.setenv("WRONG", "wrong-token-2")

    def attempt(**kw: Any) -> FlowpackError:
        args = {
            "repo": "org/bad",
            "path": "flows/etl.py",
            "access_token_secret": "GOOD",
            "base_url": api,
            **kw,
        }
        storage = GitHub(**args)
        storage.bind(store)
        with pytest.raises(FlowpackError) as info:
            storage.add_flow(SimpleNamespace(name="etl"))
        message = str(info.value)
        assert (
            "\n" not in message and "good-token-1" not in message and "wrong-token-2" not in message
        )
        return info.value

    assert isinstance(attempt(access_token_secret="WRONG"), PermissionDenied)
    assert isinstance(attempt(ref="no-such-branch"), NotFound)
    assert isinstance(attempt(path="flows/missing.py"), NotFound)
    assert isinstance(attempt(path="../../etc/passwd"), UnsafePath)
    assert isinstance(attempt(access_token_secret="UNSET_SECRET_NAME"), FlowError)
    assert isinstance(attempt(base_url="http://127.0.0.1:9/api/v3"), BackendError)
    assert isinstance(attempt(repo="org/absent"), NotFound)
    # A file over the size limit at the path never leaves the server (``blob:limit``); a big
    # file elsewhere in the repository does not stop registration.
    commit_files(repo, {"flows/huge.py": "x = 1\n" * 50_000, "data/big.bin": b"\0" * 300_000})
    big = GitHub(repo="org/bad", path="flows/huge.py", access_token_secret="GOOD", base_url=api)
    big.max_file = 100_000
    big.bind(store)
    with pytest.raises(UsageError, match="larger than the size limit"):
        big.add_flow(SimpleNamespace(name="etl"))
    fine = GitHub(repo="org/bad", path="flows/etl.py", access_token_secret="GOOD", base_url=api)
    fine.max_file = 100_000
    assert register(fine, store)[0] == expected(1)
