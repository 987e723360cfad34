"""The conformance suite every :class:`RefStore` adapter's tests subclass."""

from __future__ import annotations

import os
from typing import cast

import pytest

from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    InvalidRefName,
    MalformedData,
)
from flowpack.cas.protocols import Capabilities, RefStore, Token
from flowpack.cas.testing.common import INVALID_REF_NAMES, OnlyFlowpackErrors, race


class RefStoreConformance:
    """Checks a :class:`RefStore`; requires a ``ref_store`` fixture giving a fresh store.

    Override :meth:`corrupt_ref` to let the suite check that damaged values are detected.
    """

    race_threads = 16

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        """Overwrite the stored value of ``name`` with damaged bytes (subclasses implement).

        ``store`` is the object the ``ref_store`` fixture returned.
        """
        raise NotImplementedError

    @pytest.fixture
    def refs(self, ref_store: RefStore) -> RefStore:
        """The adapter's ``ref_store``, failing the test if it raises a non-flowpack error."""
        return cast(RefStore, OnlyFlowpackErrors(ref_store))

    def test_implements_the_protocol(self, ref_store: RefStore) -> None:
        assert isinstance(ref_store, RefStore)
        refs = ref_store
        caps = refs.capabilities
        assert isinstance(caps, Capabilities)
        assert caps.max_connections >= 1

    def test_new_store_is_empty(self, refs: RefStore) -> None:
        assert list(refs.iter_refs()) == []

    def test_read_absent_is_none(self, refs: RefStore) -> None:
        assert refs.read("flows/p/absent") is None

    def test_create_with_expected_none(self, refs: RefStore) -> None:
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("flows/p/f", d, None) is True
        found = refs.read("flows/p/f")
        assert found is not None
        assert found[0] == d
        assert isinstance(found[1], str)

    def test_create_again_with_none_fails(self, refs: RefStore) -> None:
        d1, d2 = Digest.of(os.urandom(32)), Digest.of(os.urandom(32))
        assert refs.compare_and_set("tags/v1", d1, None)
        assert refs.compare_and_set("tags/v1", d2, None) is False
        assert _value(refs, "tags/v1") == d1

    def test_create_of_an_existing_ref_with_the_same_value_fails(self, refs: RefStore) -> None:
        """A create that finds the ref is a lost race, whatever value it holds (exit 3 in
        ``ref set --create``), on every backend."""
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("tags/same", d, None) is True
        token = _token(refs, "tags/same")
        assert refs.compare_and_set("tags/same", d, None) is False
        assert _value(refs, "tags/same") == d and _token(refs, "tags/same") == token

    def test_stale_compare_and_set_to_the_current_value_fails(self, refs: RefStore) -> None:
        """A compare-and-set from a stale token fails even when another writer already set
        the same value (``ref set --expect OLD`` exits 3)."""
        d1, d2 = Digest.of(os.urandom(32)), Digest.of(os.urandom(32))
        assert refs.compare_and_set("flows/p/same", d1, None)
        stale = _token(refs, "flows/p/same")
        assert refs.compare_and_set("flows/p/same", d2, stale) is True
        assert refs.compare_and_set("flows/p/same", d2, stale) is False
        assert _value(refs, "flows/p/same") == d2

    def test_compare_and_set_with_current_token(self, refs: RefStore) -> None:
        d1, d2 = Digest.of(os.urandom(32)), Digest.of(os.urandom(64))
        assert refs.compare_and_set("flows/p/f", d1, None)
        token = _token(refs, "flows/p/f")
        assert refs.compare_and_set("flows/p/f", d2, token) is True
        assert _value(refs, "flows/p/f") == d2
        assert _token(refs, "flows/p/f") != token

    def test_compare_and_set_with_stale_token_fails(self, refs: RefStore) -> None:
        d1, d2, d3 = (Digest.of(os.urandom(32)) for _ in range(3))
        assert refs.compare_and_set("flows/p/f", d1, None)
        stale = _token(refs, "flows/p/f")
        assert refs.compare_and_set("flows/p/f", d2, stale)
        assert refs.compare_and_set("flows/p/f", d3, stale) is False
        assert _value(refs, "flows/p/f") == d2

    def test_compare_and_set_of_an_absent_ref_with_a_token_fails(self, refs: RefStore) -> None:
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("flows/p/a", d, None)
        token = _token(refs, "flows/p/a")
        assert refs.compare_and_set("flows/p/b", d, token) is False
        assert refs.read("flows/p/b") is None

    def test_values_keep_their_size(self, refs: RefStore) -> None:
        for i, size in enumerate([0, 1, 1 << 40]):
            d = Digest(Digest.of(os.urandom(8)).hex, size)
            assert refs.compare_and_set(f"sizes/s{i}", d, None)
            assert _value(refs, f"sizes/s{i}") == d

    def test_compare_and_delete(self, refs: RefStore) -> None:
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("runs/r", d, None)
        token = _token(refs, "runs/r")
        assert refs.compare_and_delete("runs/r", token) is True
        assert refs.read("runs/r") is None
        assert list(refs.iter_refs()) == []
        assert refs.compare_and_delete("runs/r", token) is False
        assert refs.compare_and_set("runs/r", d, None) is True  # can be created again
        assert _value(refs, "runs/r") == d

    def test_compare_and_delete_with_stale_token_fails(self, refs: RefStore) -> None:
        d1, d2 = Digest.of(os.urandom(32)), Digest.of(os.urandom(32))
        assert refs.compare_and_set("runs/r", d1, None)
        stale = _token(refs, "runs/r")
        assert refs.compare_and_set("runs/r", d2, stale)
        assert refs.compare_and_delete("runs/r", stale) is False
        assert _value(refs, "runs/r") == d2

    def test_compare_and_delete_of_an_absent_ref_is_false(self, refs: RefStore) -> None:
        d = Digest.of(os.urandom(32))
        assert refs.compare_and_set("runs/a", d, None)
        token = _token(refs, "runs/a")
        assert refs.compare_and_delete("runs/absent", token) is False

    def test_iter_refs_filters_by_prefix(self, refs: RefStore) -> None:
        names = ["flows/p/a", "flows/p/b", "flows/pq/c", "flows/q/d", "runs/x", "top"]
        digests = {n: Digest.of(os.urandom(32)) for n in names}
        for name, d in digests.items():
            assert refs.compare_and_set(name, d, None)
        assert sorted(refs.iter_refs("flows/p/")) == [
            ("flows/p/a", digests["flows/p/a"]),
            ("flows/p/b", digests["flows/p/b"]),
        ]
        assert [n for n, _ in sorted(refs.iter_refs("flows/p"))] == [
            "flows/p/a",
            "flows/p/b",
            "flows/pq/c",
        ]
        assert list(refs.iter_refs("nothing/")) == []
        assert sorted(refs.iter_refs()) == sorted(digests.items())

    @pytest.mark.parametrize("name", INVALID_REF_NAMES)
    def test_invalid_names_are_rejected(self, refs: RefStore, name: str) -> None:
        d = Digest.of(b"x")
        with pytest.raises(InvalidRefName):
            refs.read(name)
        with pytest.raises(InvalidRefName):
            refs.compare_and_set(name, d, None)
        with pytest.raises(InvalidRefName):
            refs.compare_and_delete(name, "token")
        assert list(refs.iter_refs()) == []

    def test_concurrent_compare_and_set_has_one_winner(self, refs: RefStore) -> None:
        assert refs.compare_and_set("race/ref", Digest.of(b"start"), None)
        self._race(refs, "race/ref", _token(refs, "race/ref"), "writers")

    def test_concurrent_creates_have_one_winner(self, refs: RefStore) -> None:
        self._race(refs, "race/new", None, "creators")
        assert [n for n, _ in refs.iter_refs()] == ["race/new"]

    def _race(self, refs: RefStore, name: str, token: Token | None, who: str) -> None:
        """``race_threads`` compare-and-sets of ``name`` from ``token`` at once: exactly one
        winner where ``atomic_cas`` is declared, and the ref holds a winner's value anyway."""
        news = [Digest.of(os.urandom(32)) for _ in range(self.race_threads)]
        outcomes = race(self.race_threads, lambda i: refs.compare_and_set(name, news[i], token))
        assert all(isinstance(o, bool) for o in outcomes), outcomes
        winners = [i for i, o in enumerate(outcomes) if o is True]
        if refs.capabilities.atomic_cas:
            assert len(winners) == 1, f"atomic_cas declared, but {len(winners)} {who} won"
            assert _value(refs, name) == news[winners[0]]
        else:
            assert _value(refs, name) in [news[i] for i in winners]

    def test_concurrent_deletes_have_one_winner(self, refs: RefStore) -> None:
        assert refs.compare_and_set("race/del", Digest.of(b"x"), None)
        token = _token(refs, "race/del")
        outcomes = race(self.race_threads, lambda i: refs.compare_and_delete("race/del", token))
        assert all(isinstance(o, bool) for o in outcomes), outcomes
        if refs.capabilities.atomic_cas:
            assert outcomes.count(True) == 1
        assert refs.read("race/del") is None

    def test_damaged_value_raises_malformed_data(self, refs: RefStore, ref_store: RefStore) -> None:
        assert refs.compare_and_set("flows/p/bad", Digest.of(b"x"), None)
        try:
            self.corrupt_ref(ref_store, "flows/p/bad")
        except NotImplementedError:
            pytest.fail(
                f"{type(self).__name__} must implement corrupt_ref(store, name): every adapter"
                " shows that a damaged ref value is detected"
            )
        with pytest.raises(MalformedData):
            refs.read("flows/p/bad")
        with pytest.raises(MalformedData):
            list(refs.iter_refs())


def _token(store: RefStore, name: str) -> str:
    found = store.read(name)
    assert found is not None, f"ref {name!r} is missing"
    return found[1]


def _value(store: RefStore, name: str) -> Digest:
    found = store.read(name)
    assert found is not None, f"ref {name!r} is missing"
    return found[0]
