"""Fixtures for the flow tests: an isolated environment, a file store, a sample flow project."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowfixtures import make_project

from flowpack.cas.opening import open_store
from flowpack.cas.store import Store


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep index caches and the default store out of the user's home."""
    monkeypatch.setenv("FLOWPACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # keys, trust policy
    monkeypatch.delenv("FLOWPACK_KEY", raising=False)
    monkeypatch.delenv("FLOWPACK_STORE", raising=False)
    monkeypatch.delenv("FLOWPACK_ADD_DEFAULT_LABELS", raising=False)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return (tmp_path / "store").as_uri()


@pytest.fixture
def store(store_url: str) -> Store:
    """A real ``file://`` store in the test's directory."""
    return open_store(store_url, cache_dir=None)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose flow imports a sibling helper module and a package module."""
    return make_project(tmp_path / "checkout-a")
