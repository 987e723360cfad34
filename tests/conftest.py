"""Fixtures shared by every test directory."""

from pathlib import Path

import pytest

pytest_plugins = [
    "servers.buckets",
    "servers.httpserver",
    "servers.webdav",
    "servers.registry",
    "servers.tokenauth",
    "servers.gitserver",
]


@pytest.fixture
def arena(tmp_path: Path) -> Path:
    """The parent of a pull's DEST, with a file in it, and an 'etc' beside it for hostile
    links to aim at: tests check that both stay exactly as they were."""
    parent = tmp_path / "arena"
    parent.mkdir()
    (parent / "canary.txt").write_text("keep me\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0\n")
    return parent
