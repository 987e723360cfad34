"""``flowpack register`` with the options Prefect 1.x users know, and ``flowpack project``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
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

with Flow({name!r}) as flow:
    one()
"""


def write_flow(path: Path, name: str, value: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FLOW.format(name=name, value=value))
    return path


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """flows/a.py, flows/b.py (top level) and flows/sub/c.py (below), as the working dir."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write_flow(root / "flows" / "a.py", "alpha")
    write_flow(root / "flows" / "b.py", "beta")
    write_flow(root / "flows" / "sub" / "c.py", "gamma")
    (root / "flows" / "notes.txt").write_text("not a flow\n")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def run(file_store: str) -> Invoke:
    invoke = make_invoker(file_store)
    invoke("project", "create", "P")
    return invoke


def registered(result_output: str) -> list[str]:
    return sorted(f["flow"] for f in json.loads(result_output)["flows"])


def test_a_directory_registers_its_top_level_files_and_globs_recurse(
    proj: Path, run: Invoke
) -> None:
    out = run("register", "-p", "flows", "--project", "P", json=True).output
    assert registered(out) == ["alpha", "beta"]  # flows/sub/c.py is not top level
    out = run("register", "-p", "flows/**/*.py", "--project", "P", json=True).output
    assert registered(out) == ["alpha", "beta", "gamma"]
    doc = json.loads(out)
    assert (doc["registered"], doc["skipped"]) == (1, 2)


def test_a_module_registers(proj: Path, run: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    write_flow(proj / "mypkg" / "__init__.py", "from-module")
    monkeypatch.syspath_prepend(str(proj))
    out = run("register", "-m", "mypkg", "--project", "P", json=True).output
    (flow,) = json.loads(out)["flows"]
    assert (flow["flow"], flow["storage"], flow["status"]) == (
        "from-module",
        "Module",
        "registered",
    )


def test_an_unknown_project_is_an_error_naming_the_known_ones(proj: Path, run: Invoke) -> None:
    bad = run("register", "-p", "flows/a.py", "--project", "p", code=1)
    assert "no project 'p'; did you mean 'P'?" in bad.output
    assert "known: P, default" in bad.output
    assert "flowpack project create p" in bad.output
    run("project", "create", "Other")
    again = run("project", "create", "Other", code=1)
    assert "already exists" in again.output
    run("project", "create", "Other", "--skip-if-exists")
    run("register", "-p", "flows/a.py", "--project", "Other")
    listed = json.loads(run("project", "ls", json=True).output)["projects"]
    assert [(p["name"], p["flows"]) for p in listed] == [("Other", 1), ("P", 0), ("default", 0)]
    assert all(p["created"] for p in listed if p["name"] != "default")
    text = run("project", "ls").output.splitlines()
    assert text[0].split() == ["PROJECT", "FLOWS", "CREATED"] and text[1].startswith("Other")
    run("register", "-p", "flows/b.py")  # the default project needs no creating


def test_name_picks_flows_and_an_unknown_name_registers_nothing(proj: Path, run: Invoke) -> None:
    out = run("register", "-p", "flows", "-n", "beta", "--project", "P", json=True).output
    assert registered(out) == ["beta"]
    bad = run("register", "-p", "flows", "-n", "alpah", "--project", "P", code=1)
    assert "no flow named 'alpah'; did you mean 'alpha'?" in bad.output
    assert "found: alpha, beta" in bad.output
    log = run("log", "P/alpha", code=1)
    assert "no flow registered as 'P/alpha'" in log.output


def test_labels_force_and_the_summary_line(proj: Path, run: Invoke) -> None:
    first = run("register", "-p", "flows", "--project", "P", "-l", "prod", "-l", "eu").output
    assert first.splitlines()[-1] == "=" * 24 + " 2 registered " + "=" * 24
    log = json.loads(run("log", "P/alpha", json=True).output)["registrations"]
    assert {"prod", "eu"} <= set(log[0]["labels"])
    write_flow(proj / "flows" / "a.py", "alpha", value=2)
    again = run("register", "-p", "flows", "--project", "P", "-l", "prod", "-l", "eu").output
    assert again.splitlines()[-1] == "=" * 18 + " 1 registered, 1 skipped " + "=" * 18
    assert "\x1b[" not in again  # no colour when stdout is not a terminal
    forced = run("register", "-p", "flows", "--project", "P", "-l", "prod", "-l", "eu", "-f")
    assert "2 registered" in forced.output and "skipped" not in forced.output
    versions = [
        r["version"] for r in json.loads(run("log", "P/beta", json=True).output)["registrations"]
    ]
    assert versions == [1, 1]  # --force writes a record; the version grows only with the bundle


def test_the_summary_is_coloured_on_a_terminal(proj: Path, file_store: str) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["--store", file_store, "project", "create", "P"])
    args = ["--store", file_store, "register", "-p", "flows/a.py", "--project", "P"]
    runner.invoke(cli, args)
    out = runner.invoke(cli, args, color=True).output
    assert "\x1b[32m0 registered\x1b[0m, \x1b[33m1 skipped\x1b[0m" in out
    assert "\x1b[33mSkipped (unchanged)\x1b[0m" in out


def test_watch_registers_again_when_a_file_changes(proj: Path, tmp_path: Path) -> None:
    store = (tmp_path / "store").as_uri()
    env = {"FLOWPACK_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    base = [sys.executable, "-m", "flowpack", "--store", store]
    subprocess.run([*base, "project", "create", "P"], check=True, env=env, timeout=60)
    watch = [*base, "register", "-p", "flows/a.py", "--project", "P", "--watch"]
    proc = subprocess.Popen(
        [*watch, "--watch-interval", "0.1", "--watch-max", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "registered" in line and line.startswith("="):
            break
    time.sleep(0.2)
    write_flow(proj / "flows" / "a.py", "alpha", value=3)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    text = "".join(lines) + out
    assert "Changed: " in text and text.count("1 registered") == 2
    assert "Version: 2" in text
