"""The seed's git classes (Git, GitHub, GitLab, Bitbucket, CodeCommit) with a real Prefect 1.x
flow, through the command line of the Prefect 1.x environment, each on ``git http-backend`` with
its host's token form: the seed's walkthrough, step by step.

The seed: "Push this code to the repository ... Now that the file exists on the repo the flow
needs to be registered ... The flow is ready to run! Every time you need to change the code
inside your flow's respective tasks all you need to do is commit that code to the same location
in the repository and each subsequent run will use that code."  These classes are script
storage only: there is no pickled form."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from prefect1kit import register_skip_and_run, run_example, seed_example

from flowpack.storage.codecommit import codecommit_password
from servers.gitserver import GitHttpServer, commit_files

AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
PATH = "flows/my_flow.py"

#: For each class: its constructor arguments, the environment the commands get, and the
#: repository's URL path on the server, given the server and a fresh name.
Setup = tuple[dict[str, object], dict[str, str], str]


def github(server: GitHttpServer, name: str) -> Setup:
    server.allow("x-access-token", f"ghs-{name}")
    args = {"repo": f"org/{name}", "path": PATH, "access_token_secret": "GITHUB_ACCESS_TOKEN"}
    args["base_url"] = f"{server.endpoint}/api/v3"
    return args, {"GITHUB_ACCESS_TOKEN": f"ghs-{name}"}, f"org/{name}"


def gitlab(server: GitHttpServer, name: str) -> Setup:
    server.allow("oauth2", f"glpat-{name}")
    args = {"repo": f"grp/{name}", "host": server.endpoint, "path": PATH}
    args["access_token_secret"] = "GITLAB_ACCESS_TOKEN"
    return args, {"GITLAB_ACCESS_TOKEN": f"glpat-{name}"}, f"grp/{name}"


def bitbucket(server: GitHttpServer, name: str) -> Setup:
    server.allow("x-token-auth", f"bb-{name}")
    args = {"project": "PRJ", "repo": name, "host": server.endpoint, "path": PATH}
    args.update(ref="main", access_token_secret="BITBUCKET_ACCESS_TOKEN")  # the seed: master
    return args, {"BITBUCKET_ACCESS_TOKEN": f"bb-{name}"}, f"scm/PRJ/{name}"


def plain_git(server: GitHttpServer, name: str) -> Setup:
    server.allow("team", f"git-{name}")
    args = {"flow_path": PATH, "repo": f"team/{name}", "repo_host": server.endpoint}
    args["git_token_secret_name"] = "GIT_TOKEN"
    return args, {"GIT_TOKEN": f"git-{name}"}, f"team/{name}"


def codecommit(server: GitHttpServer, name: str) -> Setup:
    host = server.endpoint.removeprefix("http://")

    def check(user: str, password: str) -> bool:  # the service: re-sign and compare
        try:
            when = datetime.datetime.strptime(password.partition("Z")[0], "%Y%m%dT%H%M%S")
        except ValueError:
            return False
        again = codecommit_password(SECRET, "us-east-1", host, f"/v1/repos/{name}", when)
        return user == AKID and password == again

    server.verify(check)
    options = {"region_name": "us-east-1", "endpoint_url": server.endpoint}
    env = {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET}
    return {"repo": name, "path": PATH, "client_options": options}, env, f"v1/repos/{name}"


CLASSES: dict[str, Callable[[GitHttpServer, str], Setup]] = {
    "Git": plain_git,
    "GitHub": github,
    "GitLab": gitlab,
    "Bitbucket": bitbucket,
    "CodeCommit": codecommit,
}


@pytest.mark.parametrize("cls", list(CLASSES))
def test_the_seed_walkthrough(cls: str, git_http_server: GitHttpServer, tmp_path: Path) -> None:
    name = f"flows-{uuid.uuid4().hex[:10]}"
    args, env, url_path = CLASSES[cls](git_http_server, name)
    suffix = "" if cls == "CodeCommit" else ".git"
    repo, _ = git_http_server.new_repo(url_path, suffix=suffix)
    source = seed_example(cls, args)
    first_commit = commit_files(repo, {"README.md": "a repository\n", PATH: source}, "Add my flow")
    first, _ = register_skip_and_run(tmp_path, source, env, cls)
    assert f"Building `{cls}` storage..." in first
    changed = seed_example(cls, args, data=[6, 7])
    later = commit_files(repo, {PATH: changed}, "Change a task")
    ran = run_example(tmp_path, env, data=[6, 7])  # not registered again
    assert f"Running commit {later} (registered at {first_commit})" in ran, ran
