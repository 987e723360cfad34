"""open_location() finds adapters by URL scheme through entry points."""

from __future__ import annotations

import uuid
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from flowpack.backends.local import LocalBlobStore, LocalRefStore
from flowpack.backends.memory import MemoryBlobStore
from flowpack.cas import registry
from flowpack.cas.errors import MissingDependency, UsageError
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.registry import extra_for_scheme, known_schemes, open_location, url_scheme


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("memory://x", "memory"),
        ("file:///srv/x", "file"),
        ("/srv/x", "file"),
        ("relative/dir", "file"),
        ("C:\\stores\\x", "file"),
        ("S3://bucket", "s3"),
        ("oci+https://registry/repo", "oci+https"),
        ("git+ssh://git@host/r.git", "git+ssh"),
    ],
)
def test_url_scheme(url: str, scheme: str) -> None:
    assert url_scheme(url) == scheme


@pytest.mark.parametrize(
    ("scheme", "extra"),
    [
        ("s3", "s3"),
        ("gs", "gcs"),
        ("az", "azure"),
        ("oci+http", "oci"),
        ("oci+https", "oci"),
        ("git+file", "git"),
        ("git+https", "git"),
        ("git+ssh", "git"),
        ("http", "server"),
        ("https", "server"),
        ("file", None),
        ("memory", None),
    ],
)
def test_extra_for_scheme(scheme: str, extra: str | None) -> None:
    assert extra_for_scheme(scheme) == extra


def test_core_schemes_are_registered() -> None:
    assert {"file", "memory"} <= set(known_schemes())


def test_opens_memory() -> None:
    location = open_location(f"memory://{uuid.uuid4().hex}")
    blobs, refs = location.blobs, location.refs
    assert isinstance(blobs, MemoryBlobStore)
    assert isinstance(blobs, BlobStore) and isinstance(refs, RefStore)


def test_opens_file_urls_and_plain_paths(tmp_path: Path) -> None:
    for url in (f"file://{tmp_path}", str(tmp_path)):
        location = open_location(url)
        blobs, refs = location.blobs, location.refs
        assert isinstance(blobs, LocalBlobStore) and isinstance(refs, LocalRefStore)
        assert blobs.root == tmp_path


def test_unknown_scheme_lists_known_ones() -> None:
    with pytest.raises(UsageError, match=r"nope://.*known schemes: .*file.*memory") as info:
        open_location("nope://user:s3cr3t@host/x")
    assert "s3cr3t" not in str(info.value)


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    ep = EntryPoint(name=name, value=value, group=registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {name: ep})


def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, "s3", "flowpack_no_such_module_for_test:open_s3")
    with pytest.raises(MissingDependency) as info:
        open_location("s3://bucket/prefix")
    assert "install it with: pip install 'flowpack[s3]'" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_missing_dependency_of_git_schemes(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, "git+https", "flowpack_no_such_module_for_test:open_git")
    with pytest.raises(MissingDependency, match=r"pip install 'flowpack\[git\]'"):
        open_location("git+https://host/repo.git")


class _Loaded:
    """An entry point whose adapter imports a missing module only when it opens a URL."""

    def load(self) -> object:
        return _open_needing_a_module


def test_import_error_raised_when_opening_is_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_entry_points", lambda: {"gs": _Loaded()})
    with pytest.raises(MissingDependency, match=r"gcsfs.*pip install 'flowpack\[gcs\]'"):
        open_location("gs://bucket")


def _open_needing_a_module(url: str) -> tuple[BlobStore, RefStore]:
    raise ModuleNotFoundError("No module named 'gcsfs'", name="gcsfs")


def test_a_location_closes_once_in_reverse_order() -> None:
    location = open_location(f"memory://{uuid.uuid4().hex}")
    closed: list[str] = []
    location.on_close(lambda: closed.append("first"))
    location.on_close(lambda: closed.append("second"))
    with location:
        assert location.capabilities is location.blobs.capabilities
    location.close()
    assert closed == ["second", "first"] and location.closed


@pytest.mark.parametrize("url", ["memory://", "file:///tmp/x"])
def test_stores_without_options_refuse_them(url: str) -> None:
    with pytest.raises(UsageError, match="take no options"):
        open_location(url, storage_options={"anon": True})
