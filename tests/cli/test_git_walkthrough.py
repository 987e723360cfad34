"""The script-storage seed's walkthrough, end to end through the CLI, for the git-hosted classes:
commit flows/my_flow.py to a repository served by git http-backend, ``flowpack register -p
flows/my_flow.py --project MyProject``, then ``flowpack run MyProject/example``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker

from servers.gitserver import GitHttpServer, git

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
}
TOKEN = "tok-walkthrough-5f3a"


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
    bare, _ = git_http_server.new_repo(repo_path.format(name=name))
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
    everything = out + ran + again + shown + json.dumps(run("log", "example", "--json").stdout)
    assert TOKEN not in everything
