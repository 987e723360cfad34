"""Errors: one line on stderr, the documented exit codes, JSON errors, help for every command."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from cli_invoke import Invoke
from click.testing import CliRunner

from flowpack.cli.main import cli, load_all_commands


def _one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("flowpack: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    "text", ["blake3:zz", "blake3:1234", "blake3:" + "g" * 64, "a b", "x/../y"]
)
def test_bad_digest_text_exits_2_with_one_line(invoke: Invoke, text: str) -> None:
    result = invoke("ls", text, code=2)
    assert result.stdout == ""
    _one_error_line(result.stderr)


def test_unknown_ref_exits_1_with_one_line(invoke: Invoke) -> None:
    for args in (
        ["ls", "flows/none"],
        ["pull", "flows/none", "out"],
        ["cat", "flows/none:x"],
        ["ref", "get", "flows/none"],
        ["ref", "rm", "flows/none"],
    ):
        result = invoke(*args, code=1)
        assert result.stdout == ""
        assert "flows/none" in _one_error_line(result.stderr)


def test_json_errors_are_one_json_line(invoke: Invoke) -> None:
    result = invoke("ls", "flows/none", json=True, code=1)
    assert result.stdout == ""
    doc = json.loads(result.stderr)
    assert doc["type"] == "NotFound" and doc["exit_code"] == 1 and "flows/none" in doc["error"]
    doc = json.loads(invoke("ls", "blake3:zz", json=True, code=2).stderr)
    assert doc["type"] == "InvalidDigest" and doc["exit_code"] == 2
    doc = json.loads(invoke("gc", "--grace", "soon", json=True, code=2).stderr)
    assert doc["type"] == "UsageError" and "soon" in doc["error"]
    doc = json.loads(invoke("no-such-command", json=True, code=2).stderr)
    assert doc["type"] == "UsageError"


def test_os_errors_are_one_line(invoke: Invoke, tree: Path, tmp_path: Path) -> None:
    digest = invoke("push", tree).stdout.strip()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = _one_error_line(invoke("pull", digest, blocker / "dest", code=1).stderr)
    assert str(blocker) in line


def test_debug_shows_the_traceback(invoke: Invoke) -> None:
    result = invoke("--debug", "ls", "flows/none", code=1)
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("flowpack: error: ")


def test_bad_grace_and_subset_are_usage_errors(invoke: Invoke) -> None:
    assert "3x" in invoke("gc", "--grace", "3x", code=2).stderr
    assert "1 <= N <= T" in invoke("verify", "--subset", "4/3", code=2).stderr


def test_unknown_scheme_is_one_line() -> None:
    result = CliRunner().invoke(cli, ["--store", "nosuchscheme://x", "ls", "flows/x"])
    assert result.exit_code != 0
    _one_error_line(result.stderr)


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out.extend(_all_commands(command, (*prefix, name)))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize(
    "path", _all_commands(load_all_commands()), ids=lambda p: " ".join(p) or "flowpack"
)
def test_help_for_every_command(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: flowpack {' '.join(path)}".rstrip())
    body = result.stdout.split("\n\n", 2)[1].strip()
    assert len(body) > 10  # a real description, not an empty docstring


def test_top_level_help_lists_every_command() -> None:
    out = CliRunner().invoke(cli, ["--help"]).stdout
    for name in (
        "push",
        "pull",
        "cat",
        "ls",
        "diff",
        "ref",
        "verify",
        "gc",
        "stats",
        "export",
        "import",
        "copy",
        "--store",
        "--json",
        "--debug",
        "FLOWPACK_STORE",
    ):
        assert name in out


def test_version() -> None:
    from flowpack import __version__

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout


def test_store_from_environment_and_default(
    tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    env_store = tmp_path / "env-store"
    monkeypatch.setenv("FLOWPACK_STORE", str(env_store))
    digest = runner.invoke(cli, ["push", str(tree)]).stdout.strip()
    assert (env_store / "config").exists()
    monkeypatch.delenv("FLOWPACK_STORE")
    result = runner.invoke(cli, ["ls", digest])
    assert result.exit_code == 1  # the default store is another store
    result = runner.invoke(cli, ["push", str(tree)])
    assert result.exit_code == 0 and result.stdout.strip() == digest
    assert (tmp_path / "data" / "flowpack" / "store" / "config").exists()


def test_json_may_follow_the_command(invoke: Invoke, tree: Path) -> None:
    doc = json.loads(invoke("push", tree, "--json").stdout)
    assert doc["files"] == 5
    assert json.loads(invoke("ref", "ls", "--json").stdout) == []
    err = json.loads(invoke("ref", "get", "flows/none", "--json", code=1).stderr)
    assert err["type"] == "NotFound"
