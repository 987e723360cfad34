"""History is never lost: copying refs between stores only moves them forward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker

from flowpack.cas.opening import open_store
from flowpack.packer.records import read_registration, runs, write_registration

FLOW = """\
from flowpack import task, Flow

@task
def get_data():
    return [1, 2, 3]

with Flow("example") as flow:
    get_data()
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "flows").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "flows" / "my_flow.py").write_text(FLOW)
    monkeypatch.chdir(root)
    return root


def ran(url: str) -> Invoke:
    """A store that registered the sample flow and ran it once."""
    cli = make_invoker(url)
    cli("register", "-p", "flows/my_flow.py", "--project", "p")
    cli("run", "p/example")
    return cli


def run_chain(url: str, ref: str = "runs/p/example") -> list[str]:
    with open_store(url) as store:
        return [str(r.digest) for r in runs(store, store.refs.get(ref))]


def test_copy_of_a_diverged_run_chain_is_refused_and_forced_keeps_both(
    repo: Path, tmp_path: Path
) -> None:
    a_url, b_url = (tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()
    a, b = ran(a_url), ran(b_url)
    a_runs, b_runs = run_chain(a_url), run_chain(b_url)
    assert a_runs != b_runs and len(a_runs) == 1

    refused = b("copy", b_url, a_url, "runs/p/example", code=3)
    (line,) = refused.stderr.strip().splitlines()
    assert "'runs/p/example'" in line and "not a fast-forward" in line and "--force" in line
    assert a_runs[0] in line and b_runs[0] in line
    both = b("copy", b_url, a_url, code=3).stderr
    assert "'flows/p/example'" in both and "also refused: 'runs/p/example'" in both
    assert run_chain(a_url) == a_runs  # A's own run records are intact
    a("audit", "p/example")

    forced = b("copy", b_url, a_url, "--force", json=True)
    doc = json.loads(forced.stdout)
    kept = f"diverged/runs/p/example/{a_runs[0].split(':')[1][:12]}"
    assert kept in " ".join(doc["refs_kept"]) and kept in forced.stderr
    assert run_chain(a_url) == b_runs
    assert run_chain(a_url, kept) == a_runs  # both chains reachable
    assert [n for n in a("ref", "ls").stdout.split() if n.startswith("diverged/")] == sorted(
        [kept, f"diverged/flows/p/example/{_head(a_url, kept, 'flows')}"]
    )
    a("audit", "p/example")
    assert a("verify", "--all", "--read-data").stdout.startswith("ok")
    a("gc", "--grace", "0", "--force")
    assert run_chain(a_url, kept) == a_runs


def _head(url: str, _kept: str, _ns: str) -> str:
    with open_store(url) as store:
        names = [n for n, _ in store.refs.iter_refs("diverged/flows/")]
    return names[0].rsplit("/", 1)[1]


def test_copy_moves_a_ref_that_only_grew_and_leaves_one_that_is_ahead(
    repo: Path, tmp_path: Path
) -> None:
    a_url, b_url = (tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()
    a = ran(a_url)
    a("copy", a_url, b_url)
    b = make_invoker(b_url)
    b("run", "p/example")  # B's chain now extends A's
    b("copy", b_url, a_url)
    assert run_chain(a_url) == run_chain(b_url) and len(run_chain(a_url)) == 2
    a("run", "p/example")
    out = a("copy", b_url, a_url).stdout  # A is ahead: nothing moves, nothing is lost
    assert out.startswith("copied 2 refs (0 updated)")
    assert len(run_chain(a_url)) == 3


def test_copy_of_a_different_plain_bundle_is_refused(tree: Path, tmp_path: Path) -> None:
    a_url, b_url = (tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()
    a, b = make_invoker(a_url), make_invoker(b_url)
    old = a("push", tree, "--ref", "flows/x").stdout.strip()
    (tree / "flow.py").write_text("print('b')\n")
    new = b("push", tree, "--ref", "flows/x").stdout.strip()
    line = b("copy", b_url, a_url, code=3).stderr
    assert old in line and new in line and "--force" in line
    b("copy", b_url, a_url, "--force")
    assert a("ref", "get", "flows/x").stdout.strip() == new
    assert not [n for n in a("ref", "ls").stdout.split() if n.startswith("diverged/")]


def test_run_of_a_registration_no_ref_reaches_is_refused(repo: Path, tmp_path: Path) -> None:
    url = (tmp_path / "s").as_uri()
    cli = make_invoker(url)
    cli("register", "-p", "flows/my_flow.py", "--project", "p")
    with open_store(url) as store:
        head = store.refs.require("flows/p/example")
        reg = read_registration(store, head)
        meta = {"flow": "example", "project": "p", "version": 9, "time": "2020-01-01T00:00:00"}
        orphan = write_registration(store, meta, reg.bundle, None)
    line = cli("run", str(orphan), code=1).stderr
    assert str(orphan) in line and "flows/p/example" in line and "refusing" in line
    assert len(line.strip().splitlines()) == 1
    cli("ref", "get", "runs/p/example", code=1)  # nothing ran, nothing recorded
    assert "Run succeeded" in cli("run", str(head)).stdout  # in the history: runs


def test_run_of_a_flow_whose_ref_points_at_another_flows_registration_is_refused(
    repo: Path, tmp_path: Path
) -> None:
    url = (tmp_path / "s").as_uri()
    cli = make_invoker(url)
    cli("register", "-p", "flows/my_flow.py", "--project", "p")
    head = cli("ref", "get", "flows/p/example").stdout.strip()
    cli("ref", "set", "--create", "flows/p/other", head)
    line = cli("run", "p/other", code=1).stderr
    assert "p/example" in line and "p/other" in line and "refusing" in line
    cli("ref", "get", "runs/p/other", code=1)
    cli("ref", "get", "runs/p/example", code=1)
