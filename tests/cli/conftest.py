"""Fixtures for the CLI tests: a sample tree, store URLs, and an invoker around CliRunner."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep index caches and the default store out of the user's home."""
    monkeypatch.setenv("FLOWPACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # keys, trust policy
    monkeypatch.delenv("FLOWPACK_KEY", raising=False)
    monkeypatch.delenv("FLOWPACK_STORE", raising=False)


@pytest.fixture(params=["file", "memory"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store: a ``file://`` directory, or a process-wide named ``memory://`` store."""
    if request.param == "file":
        return (tmp_path / "store").as_uri()
    return f"memory://cli-{uuid.uuid4().hex}"


@pytest.fixture
def file_store(tmp_path: Path) -> str:
    return (tmp_path / "store").as_uri()


@pytest.fixture
def invoke(store_url: str) -> Invoke:
    return make_invoker(store_url)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small project: text files, a binary file, a nested directory, an executable."""
    root = tmp_path / "project"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "flow.py").write_text("from pkg import helper\n\nprint(helper.VALUE)\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "helper.py").write_text("VALUE = 1\n")
    (root / "pkg" / "sub" / "data.bin").write_bytes(bytes(range(256)) * 40)
    run = root / "run.sh"
    run.write_text("#!/bin/sh\necho hi\n")
    run.chmod(0o755)
    return root
