"""The script-storage seed's walkthrough, end to end through the CLI, for each of the five git
classes: commit flows/my_flow.py to a repository served by git http-backend, ``flowpack register
-p flows/my_flow.py --project MyProject``, then ``flowpack run MyProject/example``."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker

from flowpack.storage.codecommit import codecommit_password
from servers.gitserver import GitHttpServer, git

AKID = "AKIDWALKTHROUGH"

WALKTHROUGH_FLOW = """\
# flows/my_flow.py

from flowpack import task, Flow
from flowpack.storage import {cls}

@task
def get_data():
    return [1, 2, 3, 4, 5]

@task
def print_data(data):
    print(data)

with Flow("example") as flow:
    data = get_data()
    print_data(data)

flow.storage = {cls}(
    {args}
)
"""

#: class -> (repository path on the server, Basic auth user, token variable, constructor args)
CLASSES = {
    "GitHub": (
        "org/{name}",
        "x-access-token",
        "GITHUB_ACCESS_TOKEN",
        'repo="org/{name}", path="flows/my_flow.py", access_token_secret="GITHUB_ACCESS_TOKEN",'
        ' base_url="{endpoint}/api/v3"',
    ),
    "GitLab": (
        "org/{name}",
        "oauth2",
        "GITLAB_ACCESS_TOKEN",
        'repo="org/{name}", host="{endpoint}", path="flows/my_flow.py",'
        ' access_token_secret="GITLAB_ACCESS_TOKEN"',
    ),
    "Bitbucket": (
        "scm/project/{name}",
        "x-token-auth",
        "BITBUCKET_ACCESS_TOKEN",
        'project="project", repo="{name}", host="{endpoint}", path="flows/my_flow.py", ref="main",'
        ' access_token_secret="BITBUCKET_ACCESS_TOKEN"',
    ),
    "Git": (
        "org/{name}",
        "org",  # the repository's owner, for a host without a token convention
        "GIT_ACCESS_TOKEN",
        'flow_path="flows/my_flow.py", repo="org/{name}", repo_host="{endpoint}",'
        ' git_token_secret_name="GIT_ACCESS_TOKEN"',
    ),
    "CodeCommit": (
        "v1/repos/{name}",
        AKID,  # the password is SigV4-derived from the secret key in AWS_SECRET_ACCESS_KEY
        "AWS_SECRET_ACCESS_KEY",
        'repo="{name}", path="flows/my_flow.py",'
        ' client_options={{"region_name": "us-east-1", "endpoint_url": "{endpoint}"}}',
    ),
}
TOKEN = "tok-walkthrough-5f3a"


def allow_codecommit(server: GitHttpServer, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accept the credentials CodeCommit derives for repository ``name`` (re-signed here)."""
    host = server.endpoint.removeprefix("http://")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)

    def check(user: str, password: str) -> bool:
        try:
            when = datetime.datetime.strptime(password.partition("Z")[0], "%Y%m%dT%H%M%S")
        except ValueError:
            return False
        path = f"/v1/repos/{name}"
        return user == AKID and password == codecommit_password(
            TOKEN, "us-east-1", host, path, when
        )

    server.verify(check)


@pytest.fixture
def checkout(
    request: pytest.FixtureRequest,
    git_http_server: GitHttpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A served repository for the class, a clone of it as the working directory, the token set;
    flows/my_flow.py committed and pushed.  Returns the checkout."""
    cls = request.param
    repo_path, user, variable, args = CLASSES[cls]
    name = f"repo-{tmp_path.name}"  # a repository of its own for each test
    suffix = "" if cls == "CodeCommit" else ".git"
    bare, _ = git_http_server.new_repo(repo_path.format(name=name), suffix=suffix)
    if cls == "CodeCommit":
        allow_codecommit(git_http_server, name, monkeypatch)
    else:
        git_http_server.allow(user, TOKEN)
    monkeypatch.setenv(variable, TOKEN)
    work = tmp_path / "checkout"
    git("clone", "-q", str(bare), str(work))
    git("checkout", "-q", "-B", "main", cwd=work)
    (work / "flows").mkdir()
    (work / "README.md").write_text("# repo\n")
    served = args.format(endpoint=git_http_server.endpoint, name=name)
    (work / "flows" / "my_flow.py").write_text(WALKTHROUGH_FLOW.format(cls=cls, args=served))
    git("add", "-A", cwd=work)
    git("commit", "-qm", "Add my flow", cwd=work)
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)
    monkeypatch.chdir(work)
    return work


def digests(text: str) -> str:
    return re.sub(r"blake3:[0-9a-f]{64}", "<digest>", text)


@pytest.mark.parametrize("checkout", list(CLASSES), indirect=True)
def test_register_then_run(checkout: Path, tmp_path: Path) -> None:
    work = checkout
    run: Invoke = make_invoker((tmp_path / "store").as_uri())
    out = run("register", "-p", "flows/my_flow.py", "--project", "MyProject").output
    cls = (work / "flows" / "my_flow.py").read_text().split("flow.storage = ")[1].split("(")[0]
    assert digests(out).splitlines() == [
        "Collecting flows...",
        "Processing 'flows/my_flow.py':",
        f"  Building `{cls}` storage...",
        "  Registering 'example'... Done",
        "  └── ID: <digest>",
        "  └── Version: 1",
        "======================== 1 registered ========================",
    ]
    ran = run("run", "MyProject/example").output
    assert "[1, 2, 3, 4, 5]" in ran.splitlines()
    # What registers is the commit, not the working tree: an uncommitted edit changes nothing.
    flow_file = work / "flows" / "my_flow.py"
    flow_file.write_text(flow_file.read_text().replace("[1, 2, 3, 4, 5]", "[0]"))
    again = run("register", "-p", "flows/my_flow.py", "--project", "MyProject").output
    assert "Skipped (unchanged)" in again
    # Committed and pushed, it is registered as version 2 and runs.
    git("commit", "-qam", "change a task body", cwd=work)
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)
    assert (
        "Version: 2" in run("register", "-p", "flows/my_flow.py", "--project", "MyProject").output
    )
    assert "[0]" in run("run", "MyProject/example").output.splitlines()
    shown = run("show", "MyProject/example", "--json").stdout
    # "the registration record holds the repository (redacted), the commit id and the path"
    source = json.loads(shown)["source"]
    assert source["kind"] == "git" and source["path"] == "flows/my_flow.py", source
    assert source["commit"] == git("rev-parse", "HEAD", cwd=work).strip()
    assert TOKEN not in source["repo"] and "flows/my_flow.py" not in source["repo"]
    everything = out + ran + again + shown + json.dumps(run("log", "example", "--json").stdout)
    assert TOKEN not in everything


def push(work: Path, old: str, new: str, message: str) -> str:
    """Edit flows/my_flow.py, commit and push it; the new commit id."""
    path = work / "flows" / "my_flow.py"
    path.write_text(path.read_text().replace(old, new))
    git("commit", "-qam", message, cwd=work)
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).strip()


@pytest.mark.parametrize("checkout", ["GitHub", "GitLab"], indirect=True)
def test_runs_follow_the_branch(
    checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed: "commit that code to the same location in the repository and each subsequent
    run will use that code"; "If you change any of the structure of your flow such as task
    names, rearrange task order, etc. then you will need to reregister that flow"."""
    work = checkout
    registered = git("rev-parse", "HEAD", cwd=work).strip()
    run: Invoke = make_invoker((tmp_path / "store").as_uri())
    run("register", "-p", "flows/my_flow.py", "--project", "MyProject")
    assert "[1, 2, 3, 4, 5]" in run("run", "MyProject/example").output.splitlines()
    moved = push(work, "[1, 2, 3, 4, 5]", "[42]", "change a task body")
    out = run("run", "MyProject/example").output
    assert f"  └── Running commit {moved} (registered at {registered})" in out.splitlines()
    assert "[42]" in out.splitlines()
    doc = json.loads(run("run", "MyProject/example", "--json").stdout)
    assert (doc["commit"], doc["registered_commit"]) == (moved, registered)
    assert doc["bundle"] != json.loads(run("run", "MyProject/example@1", "--json").stdout)["bundle"]
    pinned = run("run", "MyProject/example", "--pinned").output
    assert "[1, 2, 3, 4, 5]" in pinned.splitlines() and "Running commit" not in pinned
    push(work, "    print_data(data)\n", "    print_data(data)\n    print_data(data)\n", "a call")
    refused = run("run", "MyProject/example", code=1)
    assert "changed at commit" in refused.output and "re-register it" in refused.output
    assert refused.output.count("\n") == 1  # one line
    assert "[1, 2, 3, 4, 5]" in run("run", "MyProject/example@1").output.splitlines()
    for variable in ("GITHUB_ACCESS_TOKEN", "GITLAB_ACCESS_TOKEN"):
        monkeypatch.setenv(variable, "not-the-token")
    denied = run("run", "MyProject/example", code=1).output
    assert denied.count("\n") == 1 and "credentials were rejected" in denied
    assert "not-the-token" not in denied
    runs = json.loads(run("runs", "MyProject/example", "--json").stdout)["runs"]
    assert all(r["status"] == "success" for r in runs)  # the refused run recorded nothing
    assert run("verify", "--all").exit_code == 0
