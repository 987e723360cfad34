"""Default ignores are visible and controllable: listed in ``push --help``, counted on stderr
(and in ``--json``), switched off by ``--no-default-ignores``, extended by ``.flowpackignore``
(gitignore syntax)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from flowpack.cli.main import cli


def run(store: str, *args: str | Path) -> tuple[int, str, str]:
    """The CLI in-process with ``--quiet`` (no closing summary line on stderr)."""
    argv = ["--store", store, "--quiet", *map(str, args)]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def project(root: Path) -> Path:
    for rel, text in {
        "flow.py": "x = 1\n",
        "pkg/mod.py": "y = 2\n",
        "pkg/__pycache__/mod.cpython-311.pyc": "bytecode",
        "old.pyc": "bytecode",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".git/config": "[core]\n",
        ".pytest_cache/v/cache": "{}",
        "data/big.csv": "a,b\n",
        "notes/todo.txt": "later\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def listed(store: str, digest: str) -> set[str]:
    code, out, _ = run(store, "--json", "ls", digest)
    assert code == 0
    return {f["path"] for f in json.loads(out)}


def test_default_ignores_are_listed_in_push_help() -> None:
    code, out, _ = run("memory://help", "push", "--help")
    assert code == 0
    for name in (".git", "__pycache__", "*.pyc", ".pytest_cache", ".flowpackignore"):
        assert name in out
    assert "--no-default-ignores" in out


def test_push_says_how_many_files_were_ignored(tmp_path: Path) -> None:
    store, src = (tmp_path / "s").as_uri(), project(tmp_path / "p")
    code, out, err = run(store, "push", src)
    assert code == 0 and out.startswith("blake3:") and out.count("\n") == 1
    assert err == "ignored 5 files (default ignores; --no-default-ignores to include them)\n"
    assert listed(store, out.strip()) == {"flow.py", "pkg/mod.py", "data/big.csv", "notes/todo.txt"}
    code, out, _ = run(store, "--json", "push", src)
    assert json.loads(out)["ignored"] == 5


def test_no_default_ignores_pushes_everything(tmp_path: Path) -> None:
    store, src = (tmp_path / "s").as_uri(), project(tmp_path / "p")
    code, out, err = run(store, "push", "--no-default-ignores", src)
    assert code == 0 and err == ""
    assert len(listed(store, out.strip())) == 9


def test_a_flowpackignore_file_adds_gitignore_patterns(tmp_path: Path) -> None:
    store, src = (tmp_path / "s").as_uri(), project(tmp_path / "p")
    (src / ".flowpackignore").write_text("# data stays local\n/data/\n*.txt\n!keep.txt\n")
    (src / "notes" / "keep.txt").write_text("kept\n")
    code, out, err = run(store, "push", src)
    assert code == 0, err
    assert listed(store, out.strip()) == {
        ".flowpackignore",
        "flow.py",
        "pkg/mod.py",
        "notes/keep.txt",
    }
    assert err.startswith("ignored 7 files (default ignores and .flowpackignore;")
    code, out, err = run(store, "push", "--no-default-ignores", src)
    paths = listed(store, out.strip())
    assert ".git/HEAD" in paths and "data/big.csv" not in paths and "notes/todo.txt" not in paths
