"""The import closure: found by reading imports, relative to the project root, never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowpack.cas.errors import FlowError, UsageError
from flowpack.packer.closure import include_files, project_root, script_closure


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_closure_of_the_sample_project(project: Path) -> None:
    c = script_closure(project / "flows" / "etl.py")
    assert c.root == project
    assert c.entry == "flows/etl.py"
    assert c.paths == ("flows", ".")
    assert c.files == ("flows/etl.py", "flows/helpers.py", "lib/__init__.py", "lib/util.py")
    assert c.modules == ("helpers", "lib", "lib.util")


def test_every_import_form_is_followed_transitively(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            "app/run.py": (
                "import os, json\n"
                "import pkg.sub.deep\n"
                "from pkg import sibling\n"
                "from pkg.sub import *\n"
                "import importlib\n"
                "def later():\n"
                "    import lazy\n"
                "    return importlib.import_module('dyn')\n"
                "try:\n"
                "    import optional_missing\n"
                "except ImportError:\n"
                "    pass\n"
            ),
            "pkg/__init__.py": "",
            "pkg/sibling.py": "from . import rel\nfrom .sub.deep import X\n",
            "pkg/rel.py": "from .. import toplevel\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "X = 1\n",
            "toplevel.py": "",
            "lazy.py": "import flowpack\nfrom flowpack.storage import Local\n",
            "dyn.py": "",
            "unused.py": "",
            "pkg/unused.py": "",
        },
    )
    c = script_closure(tmp_path / "app" / "run.py")
    assert c.root == tmp_path
    assert c.files == (
        "app/run.py",
        "dyn.py",
        "lazy.py",
        "pkg/__init__.py",
        "pkg/rel.py",
        "pkg/sibling.py",
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
        "toplevel.py",
    )


def test_the_scripts_directory_shadows_the_project_root(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "setup.py": "",
            "flows/f.py": "import helpers\n",
            "flows/helpers.py": "",
            "helpers.py": "",
        },
    )
    assert script_closure(tmp_path / "flows" / "f.py").files == ("flows/f.py", "flows/helpers.py")


def test_without_a_marker_the_root_is_the_scripts_directory(tmp_path: Path) -> None:
    write(tmp_path, {"a/b/f.py": "import g\n", "a/b/g.py": "", "a/g.py": ""})
    assert project_root(tmp_path / "a" / "b" / "f.py") == tmp_path / "a" / "b"
    assert script_closure(tmp_path / "a" / "b" / "f.py").files == ("f.py", "g.py")


def test_nothing_is_executed_and_syntax_errors_are_named(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": "",
            "f.py": "import side\nraise SystemExit('never run')\n",
            "side.py": "open('ran', 'w').write('x')\n",
            "bad.py": "def (:\n",
            "g.py": "import bad\n",
        },
    )
    assert script_closure(tmp_path / "f.py").files == ("f.py", "side.py")
    assert not (tmp_path / "ran").exists()
    with pytest.raises(FlowError, match=r"cannot read the imports of bad\.py"):
        script_closure(tmp_path / "g.py")


def test_include_patterns(tmp_path: Path) -> None:
    write(tmp_path, {"data/a.csv": "1", "data/sub/b.csv": "2", "conf.yaml": "k: v"})
    assert include_files(tmp_path, ["data", "*.yaml"]) == [
        "conf.yaml",
        "data/a.csv",
        "data/sub/b.csv",
    ]
    with pytest.raises(UsageError, match="matches nothing"):
        include_files(tmp_path, ["*.missing"])
    with pytest.raises(UsageError, match=r"no '\.\.'"):
        include_files(tmp_path, ["../x"])
