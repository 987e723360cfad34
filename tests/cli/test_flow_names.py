"""Flow names in the bundle commands, records refused by pull, export/import --refs, and the
error messages: "did you mean", at most ten names, --debug tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker
from click.testing import CliRunner

from flowpack.cli.main import cli

FLOW = """\
from flowpack import Flow, task

@task
def one():
    return {value}

with Flow("example") as flow:
    one()
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "my_flow.py").write_text(FLOW.format(value=1))
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def run(file_store: str, repo: Path) -> Invoke:
    """Project P holding example v1 and v2."""
    invoke = make_invoker(file_store)
    invoke("project", "create", "P")
    invoke("register", "-p", "my_flow.py", "--project", "P")
    (repo / "my_flow.py").write_text(FLOW.format(value=2))
    invoke("register", "-p", "my_flow.py", "--project", "P")
    return invoke


def test_bundle_commands_take_flow_names(run: Invoke, tmp_path: Path) -> None:
    files = json.loads(run("ls", "P/example", json=True).stdout)
    assert [f["path"] for f in files] == ["my_flow.py"]
    run("pull", "P/example@1", tmp_path / "v1")
    run("pull", "example", tmp_path / "v2")  # a flow name alone, when one project has it
    assert "return 1" in (tmp_path / "v1" / "my_flow.py").read_text()
    assert "return 2" in (tmp_path / "v2" / "my_flow.py").read_text()
    assert "return 1" in run("cat", "P/example@1:my_flow.py").output
    diff = run("diff", "P/example@1", "P/example@2").output
    assert "changed  my_flow.py" in diff and "-    return 1" in diff and "+    return 2" in diff
    gone = run("ls", "P/example@3", code=1)
    assert "flow P/example has no version 3" in gone.output


def test_pull_of_a_record_is_a_clear_error(run: Invoke, tmp_path: Path) -> None:
    log = json.loads(run("log", "P/example", json=True).stdout)["registrations"]
    refused = run("pull", "flows/P/example", tmp_path / "out", code=2)
    assert "is the registration record of P/example version 2, which holds no files" in (
        refused.output
    )
    assert log[0]["bundle"] in refused.output and "P/example@2" in refused.output
    assert not (tmp_path / "out").exists()
    run("run", "P/example")
    ran = json.loads(run("runs", "P/example", json=True).stdout)["runs"][0]
    refused = run("ls", ran["record"], code=2)
    assert (
        f"is a run record of P/example, which holds no files; the bundle it ran is {ran['bundle']}"
        in (refused.output)
    )


def test_export_and_import_refs_move_a_flow_that_runs_by_name(
    run: Invoke, tmp_path: Path, repo: Path
) -> None:
    run("run", "P/example")
    run("export", "P/example", "-o", tmp_path / "example.pack")  # the whole history
    other = make_invoker((tmp_path / "other").as_uri())
    imported = other("import", tmp_path / "example.pack", "--refs", json=True)
    doc = json.loads(imported.stdout)
    assert doc["refs"] == {"flows/P/example": "created", "runs/P/example": "created"}
    assert len(json.loads(other("runs", "P/example", json=True).stdout)["runs"]) == 1
    again = json.loads(other("import", tmp_path / "example.pack", "--refs", json=True).stdout)
    assert set(again["refs"].values()) == {"unchanged"}
    assert "Run succeeded" in other("run", "P/example").output
    assert [r["version"] for r in json.loads(other("log", "P/example", json=True).stdout)[
        "registrations"
    ]] == [2, 1]  # fmt: skip
    (repo / "my_flow.py").write_text(FLOW.format(value=3))
    other("register", "-p", "my_flow.py", "--project", "P")
    refused = other("import", tmp_path / "example.pack", "--refs", code=1)
    assert "ref 'flows/P/example' points at" in refused.output and "--force" in refused.output
    forced = other("import", tmp_path / "example.pack", "--refs", "--force", json=True)
    assert json.loads(forced.stdout)["refs"]["flows/P/example"] == "updated"
    bundle = run("export", "P/example", "-o", tmp_path / "b.pack")
    assert bundle.exit_code == 0
    log = json.loads(run("log", "P/example", json=True).stdout)["registrations"]
    run("export", log[0]["bundle"], "-o", tmp_path / "bundle.pack")
    plain = other("import", tmp_path / "bundle.pack", "--refs", code=2)
    assert "is a bundle, not a flow's record, so it names no ref" in plain.output


def test_did_you_mean_for_flows_and_refs(run: Invoke) -> None:
    flow = run("run", "P/exampel", code=1)
    assert "no flow registered as 'P/exampel'; did you mean 'P/example'?" in flow.output
    alone = run("log", "exampl", code=1)
    assert "did you mean 'P/example'?" in alone.output
    ref = run("ref", "get", "flows/P/exampl", code=1)
    assert "no ref named 'flows/P/exampl'; did you mean 'flows/P/example'?" in ref.output
    ls = run("ls", "flows/P/exampl", code=1)
    assert "did you mean 'flows/P/example'?" in ls.output


def test_no_error_lists_more_than_ten_names(file_store: str, repo: Path) -> None:
    body = "from flowpack import Flow, task\n\n@task\ndef t():\n    return 1\n\n"
    body += "".join(f"with Flow('flow{i:02d}') as f{i}:\n    t()\n" for i in range(12))
    (repo / "many.py").write_text(body)
    run = make_invoker(file_store)
    run("register", "-p", "many.py")
    out = run("run", "default/zzz", code=1).output
    assert "registered: default/flow00, " in out and "default/flow09 and 2 more" in out
    assert "flow10" not in out
    named = run("register", "-p", "many.py", "-n", "flow1", code=1).output
    assert "no flow named 'flow1'; did you mean 'flow11' or 'flow10' or 'flow01'?" in named
    assert "(found: flow00, flow01," in named and "flow09 and 2 more)" in named


def test_debug_prints_the_traceback_of_a_flow_that_fails_to_load(
    file_store: str, repo: Path
) -> None:
    (repo / "broken.py").write_text("def helper():\n    raise RuntimeError('boom')\n\nhelper()\n")
    plain = CliRunner().invoke(cli, ["--store", file_store, "register", "-p", "broken.py"])
    assert plain.exit_code == 1 and "Traceback" not in plain.output
    assert "Error loading 'broken.py'" in plain.output and "boom" in plain.output
    debug = CliRunner().invoke(
        cli, ["--store", file_store, "--debug", "register", "-p", "broken.py"]
    )
    assert debug.exit_code == 1
    assert "Traceback of broken.py:" in debug.stderr
    assert 'broken.py", line 2, in helper' in debug.stderr and "RuntimeError: boom" in debug.stderr
