"""A store owns the location it was opened from: closing the store closes the location."""

from __future__ import annotations

from pathlib import Path

from flowpack.cas.opening import open_store
from flowpack.cas.registry import open_location
from flowpack.cas.store import Store


def test_closing_the_store_closes_its_location() -> None:
    closed: list[str] = []
    location = open_location("memory://owned")
    location.on_close(lambda: closed.append("sdk session"))
    store = Store.from_location(location, cache_dir=None)
    assert store.location is location and store.url == "memory://owned"
    with store:
        assert store.missing([]) == []
    assert location.closed and closed == ["sdk session"]
    store.close()  # idempotent: the closer ran once
    assert closed == ["sdk session"]


def test_open_store_hands_its_location_to_the_store(tmp_path: Path) -> None:
    store = open_store((tmp_path / "s").as_uri(), cache_dir=None)
    location = store.location
    assert location is not None and not location.closed
    store.close()
    assert location.closed


def test_a_store_built_from_adapters_owns_no_location() -> None:
    location = open_location("memory://")
    store = Store(location.blobs, location.refs)
    assert store.location is None
    store.close()
    assert not location.closed
