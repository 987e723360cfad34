"""Data files a script flow reads at run time: bundled when found in the closure, named in a
warning when they cannot be, and ``register --include GLOB``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowpack.cli.main import cli

ETL = """\
import importlib.resources
import os
from pathlib import Path

from flowpack import Flow, task
from lib.util import template

HERE = Path(__file__).resolve().parent


@task
def read_all():
    rates = open(HERE / "data" / "rates.csv").read()
    conf = open(os.path.join(os.path.dirname(__file__), "conf.json")).read()
    shipped = (importlib.resources.files("lib") / "tmpl.txt").read_text()
    return [rates.strip(), json.loads(conf)["k"], shipped.strip(), template()]


def optional():
    return Path(__file__).parent / "missing.csv"


def far():
    return Path(__file__).parent.parent.parent / "outside.txt"


import json

with Flow("etl") as flow:
    read_all()
"""

UTIL = """\
import pkgutil


def template():
    return pkgutil.get_data("lib", "other.txt").decode().strip()
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "flows" / "data").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "assets").mkdir()
    (root / "flows" / "etl.py").write_text(ETL)
    (root / "flows" / "data" / "rates.csv").write_text("1,2\n")
    (root / "flows" / "conf.json").write_text('{"k": 7}')
    (root / "lib" / "__init__.py").write_text("")
    (root / "lib" / "util.py").write_text(UTIL)
    (root / "lib" / "tmpl.txt").write_text("hello\n")
    (root / "lib" / "other.txt").write_text("other\n")
    (root / "assets" / "logo.bin").write_bytes(b"\x00\x01")
    (tmp_path / "outside.txt").write_text("far away\n")
    monkeypatch.chdir(root)
    return root


def test_data_files_are_bundled_or_named_and_include_adds_more(repo: Path, file_store: str) -> None:
    runner = CliRunner()
    base = ["--store", file_store]
    reg = runner.invoke(cli, [*base, "register", "-p", "flows/etl.py", "--include", "assets/*"])
    assert reg.exit_code == 0, reg.output
    assert "flows/etl.py:20 reads flows/missing.csv, which does not exist; not bundled" in (
        reg.stderr
    )
    assert "outside.txt, which is outside the project root; not bundled" in reg.stderr
    assert "--include GLOB" in reg.stderr
    files = [
        f["path"]
        for f in json.loads(runner.invoke(cli, [*base, "ls", "default/etl", "--json"]).stdout)
    ]
    assert files == [
        "assets/logo.bin",
        "flows/conf.json",
        "flows/data/rates.csv",
        "flows/etl.py",
        "lib/__init__.py",
        "lib/other.txt",
        "lib/tmpl.txt",
        "lib/util.py",
    ]
    ran = runner.invoke(cli, [*base, "run", "default/etl", "--json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["status"] == "success"
    again = runner.invoke(cli, [*base, "register", "-p", "flows/etl.py", "--json"])
    doc = json.loads(again.stdout)
    assert doc["skipped"] == 0 and doc["registered"] == 1  # without assets/: a new bundle
    assert any("missing.csv" in w for w in doc["warnings"])


MADE_AT_RUN_TIME = """\
import datetime
from pathlib import Path

from flowpack import Flow, task

HERE = Path(__file__).parent


@task
def read_report():
    name = f"reports/{datetime.date.today().year}.csv"  # known only when it runs
    return (HERE / name).read_text().strip()


with Flow("report") as flow:
    read_report()
"""


def test_a_file_the_bundle_lacks_is_named_with_include_glob(
    tmp_path: Path, file_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime

    root = tmp_path / "reports-repo"
    (root / ".git").mkdir(parents=True)
    (root / "report.py").write_text(MADE_AT_RUN_TIME)
    (root / "reports").mkdir()
    report = root / "reports" / f"{datetime.date.today().year}.csv"
    report.write_text("a,b\n")  # beside the script, but not found by reading its code
    monkeypatch.chdir(root)
    runner = CliRunner()
    base = ["--store", file_store]
    reg = runner.invoke(cli, [*base, "register", "-p", "report.py"])
    assert reg.exit_code == 0 and "not bundled" not in reg.output, reg.output
    ran = runner.invoke(cli, [*base, "run", "default/report"])
    assert ran.exit_code == 1, ran.output
    line = next(s for s in ran.output.splitlines() if s.startswith("Run failed"))
    rel = f"reports/{report.name}"
    assert f"FileNotFoundError: {rel} was not in the bundle" in line
    assert "`flowpack register --include GLOB`" in line and f"--include '{rel}'" in line
    assert "flowpack-flow-" not in line  # the extracted folder is not the user's concern
    runs = json.loads(runner.invoke(cli, [*base, "runs", "default/report", "--json"]).stdout)
    assert runs["runs"][0]["error"].startswith(f"FileNotFoundError: {rel} was not in the bundle")
    again = runner.invoke(cli, [*base, "register", "-p", "report.py", "--include", "reports/*"])
    assert again.exit_code == 0, again.output
    done = runner.invoke(cli, [*base, "run", "default/report", "--json"])
    assert done.exit_code == 0 and json.loads(done.stdout)["status"] == "success", done.output
