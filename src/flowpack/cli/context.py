"""The CLI context: global options plus the store, opened on first use.

Commands receive a :class:`CliContext` through :data:`pass_cli`.  Opening the store is deferred
until a command needs it, so ``flowpack --help`` imports neither the store nor its codecs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flowpack.cas.digest import Digest
    from flowpack.cas.store import Store

_SHORT_HEX = re.compile(r"^[0-9a-f]{8,63}$")


@dataclass
class CliContext:
    """Global options (``--store``, ``--json``, ``--quiet``, ``--debug``, ``--token``,
    ``--insecure``) and the stores opened so far."""

    store_url: str | None = None
    json: bool = False
    quiet: bool = False
    debug: bool = False
    token: str | None = None
    insecure: bool = False
    _store: Store | None = None
    _opened: list[Store] = field(default_factory=list)

    @property
    def store(self) -> Store:
        """The store named by ``--store`` (else ``$FLOWPACK_STORE``, else the default)."""
        if self._store is None:
            self._store = self.open_store(self.store_url)
        return self._store

    def open_store(self, url: str | None) -> Store:
        """Open another store (``copy``); it is closed with the context."""
        from flowpack.cas.memory import one_malloc_arena
        from flowpack.cas.opening import open_store

        one_malloc_arena()  # before the store starts threads
        options = self.location_options(url)
        store = open_store(url, sync_once=True, options=options)  # one listing of the index
        self._opened.append(store)
        return store

    def location_options(self, url: str | None) -> dict[str, object]:
        """The global options that apply to the location at ``url``: ``--token`` to
        ``http(s)://`` stores, ``--insecure`` to ``oci+http(s)://`` registries (refused for
        any other store, so the flag never silently does nothing)."""
        import os

        from flowpack.cas.errors import UsageError
        from flowpack.cas.registry import url_scheme

        scheme = url_scheme(url or os.environ.get("FLOWPACK_STORE") or "")
        options: dict[str, object] = {}
        if self.token and scheme in ("http", "https"):
            options["token"] = self.token
        if self.insecure:
            if not scheme.startswith("oci+"):
                raise UsageError("--insecure applies to oci+http(s):// registries only")
            options["insecure"] = True
        return options

    def close(self) -> None:
        """Close every store this context opened."""
        while self._opened:
            self._opened.pop().close()
        self._store = None

    def resolve(self, text: str, store: Store | None = None) -> Digest:
        """A manifest digest from a full digest, a unique prefix of 8+ hex digits, or a ref.

        Raises :class:`~flowpack.cas.errors.InvalidDigest` or ``AmbiguousDigest`` (exit 2) and
        :class:`~flowpack.cas.errors.NotFound` (exit 1).
        """
        from flowpack.cas.digest import parse_prefix
        from flowpack.cas.errors import InvalidDigest, InvalidRefName, NotFound

        store = store or self.store
        if text.strip().startswith("blake3:"):
            parse_prefix(text)  # a clear InvalidDigest rather than a ref-name complaint
        try:
            return store.resolve(text)
        except InvalidRefName:
            raise InvalidDigest(
                f"{text[:80]!r} is neither a digest, a digest prefix of 8+ hex digits, "
                "nor a valid ref name"
            ) from None
        except NotFound as exc:
            # The store reads short bare hex as a ref name first; fall back to a prefix.
            short = text.strip().lower()
            if not _SHORT_HEX.match(short):
                raise NotFound(str(exc) + self.ref_hint(text, store)) from None
            try:
                return store.resolve(f"blake3:{short}")
            except NotFound:
                pass
            raise

    def require_ref(self, name: str) -> Digest:
        """The digest ref ``name`` points at; :class:`NotFound` with the closest ref names."""
        from flowpack.cas.errors import NotFound

        try:
            return self.store.refs.require(name)
        except NotFound as exc:
            raise NotFound(str(exc) + self.ref_hint(name)) from None

    def ref_hint(self, name: str, store: Store | None = None) -> str:
        """``"; did you mean 'x'?"`` for the refs closest to ``name`` (empty if none)."""
        from flowpack.cas.errors import FlowpackError
        from flowpack.packer.suggest import did_you_mean

        try:
            names = [n for n, _ in (store or self.store).refs.iter_refs("")]
        except FlowpackError:
            return ""  # a store that cannot list its refs: no hint
        return did_you_mean(name.strip(), names)

    def resolve_expected(self, text: str) -> Digest:
        """The value a compare-and-set expects: like :meth:`resolve`, but a full digest that is
        not stored is still accepted (it simply will not match, and the race is reported)."""
        from flowpack.cas.digest import Digest
        from flowpack.cas.errors import NotFound

        try:
            return self.resolve(text)
        except NotFound:
            if not text.strip().startswith("blake3:"):
                raise
            return Digest.parse(text, 0)


pass_cli = click.make_pass_decorator(CliContext)
