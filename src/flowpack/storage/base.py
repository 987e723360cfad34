"""`Storage`: the seed API's base class, over a content-addressed store.

``Storage(result=None, secrets=None, labels=None, add_default_labels=None,
stored_as_script=False)`` keeps the seed's arguments and meanings:

- ``result`` is kept on the object for code that reads it; flowpack stores no task results.
- ``secrets`` are *names*, resolved from the environment when a flow runs
  (:meth:`Storage.resolve_secrets`); values are never stored anywhere.
- ``labels`` plus, when ``add_default_labels`` is true, the class's :attr:`default_labels`
  (``add_default_labels=None`` reads ``$FLOWPACK_ADD_DEFAULT_LABELS``, default true).
- ``stored_as_script``: pack the flow's source (the file plus its local import closure)
  instead of a pickle.
- ``include`` (flowpack's addition): glob patterns, relative to the project root, of extra
  files a script bundle carries (data files, templates).

``add_flow(flow)`` packs the flow into the store and returns its *location*: the storage's
``key`` / ``path`` / ``blob_name`` when it has one (as the seed; ``Docker``: the flow's path in
the image, ``Webhook``: its name), else the bundle's digest ``blake3:<hex>``, the same for the
same content on any machine (the seed's timestamp key, made reproducible).  The digest is kept
either way (:meth:`Storage.digest_of`), and ``get_flow`` verifies against it.
``stored_as_script=True`` with no script location (and no file known from ``flowpack register
-p``) raises the seed's ``ValueError`` for the class.  Packing uploads only
chunks the store lacks, so it happens in ``add_flow`` (as the seed's ``Local`` wrote its file
there); ``build()`` checks every added flow is stored and returns the storage.  A second flow
with a name already present raises ``ValueError('Name conflict: Flow with the name "<name>" is
already present in this storage.')``; ``get_flow(name_or_location)`` loads a flow verified,
and an unknown name raises an error (a ``ValueError``) listing the flows present.

Extending (S3, GCS, Git ... live in sibling modules): a subclass says where its store is by
overriding :meth:`Storage.store_url` (or :meth:`Storage.open_store` for custom credentials),
its :attr:`default_labels`, and, when a flow is not packed from local files,
:meth:`Storage.pack`.  ``store_url() -> None`` means "the store in use": the registry store
``flowpack register`` binds with :meth:`Storage.bind`, else ``$FLOWPACK_STORE``, else the
per-user default store.

Every ``Storage`` is a :class:`flowpack.packer.flowstorage.FlowStorage` (what registration
needs of it), and packs with the packer's verb :func:`flowpack.packer.packing.pack_flow`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from flowpack.cas.digest import Digest, looks_like_digest
from flowpack.cas.errors import FlowError, IntegrityError, NotFound
from flowpack.cas.store import PushResult, Store
from flowpack.packer.discover import FlowNotFound, names_text
from flowpack.storage.credentials import masked

if TYPE_CHECKING:
    from flowpack.packer.script import ScriptSource

ENV_DEFAULT_LABELS = "FLOWPACK_ADD_DEFAULT_LABELS"


def default_add_labels() -> bool:
    """The configured ``add_default_labels`` (``$FLOWPACK_ADD_DEFAULT_LABELS``, default true)."""
    value = os.environ.get(ENV_DEFAULT_LABELS, "true").strip().lower()
    return value not in ("0", "false", "no", "off")


class Storage:
    """Where flows are kept; every seed storage class derives from it (see module docstring).

    Abstract, as in the seed: ``Storage()`` raises :class:`TypeError`; use a subclass
    (``Local`` is the default).
    """

    #: The constructor arguments :meth:`serialize` reports, besides ``flows`` and ``secrets``.
    SERIALIZED: ClassVar[tuple[str, ...]] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Storage:
        if cls is Storage:
            raise TypeError(
                "Can't instantiate abstract class Storage with abstract method add_flow"
                " (use a subclass: Local, Module, S3, GCS, Azure...)"
            )
        return super().__new__(cls)

    def __init__(
        self,
        result: Any = None,
        secrets: list[str] | None = None,
        labels: list[str] | None = None,
        add_default_labels: bool | None = None,
        stored_as_script: bool = False,
        *,
        include: list[str] | None = None,
    ) -> None:
        self.result = result
        self.secrets: list[str] = list(secrets or [])
        self._labels: list[str] = list(labels or [])
        self.add_default_labels = (
            default_add_labels() if add_default_labels is None else bool(add_default_labels)
        )
        self.stored_as_script = bool(stored_as_script)
        self.include: list[str] = list(include or [])
        self.flows: dict[str, str] = {}
        self._digests: dict[str, str] = {}  # flow name -> bundle digest, when flows names a key
        self._flows: dict[str, Any] = {}
        self._store: Store | None = None

    # -- what subclasses declare ---------------------------------------------------------

    def store_url(self) -> str | None:
        """The URL of this storage's own store, or None for the store in use."""
        return None

    def open_store(self) -> Store:
        """Open this storage's store (called once, on first use)."""
        from flowpack.cas.opening import open_store

        return open_store(self.store_url())

    @property
    def default_labels(self) -> list[str]:
        """Labels this class adds when ``add_default_labels`` is true."""
        return []

    def pack(
        self, flow: Any, *, source: ScriptSource | None = None, parent: Digest | None = None
    ) -> PushResult:
        """Store ``flow`` as a bundle and return what was stored (no name bookkeeping).

        ``source`` is the :class:`~flowpack.packer.script.ScriptSource` the flow was loaded
        from, when known; ``parent`` the previous version's bundle, for delta compression.
        See :func:`flowpack.packer.packing.pack_flow`.
        """
        from flowpack.packer.packing import pack_flow

        self._check_script_location(source)
        return pack_flow(
            self.store,
            flow,
            as_script=self.stored_as_script,
            source=source,
            script_path=self.script_path,
            include=self.include,
            parent=parent,
        )

    def location_name(self) -> str | None:
        """The name :meth:`add_flow` returns as the location (the seed's ``key``, ``path``,
        ``blob_name``), or None: then the location is the bundle digest."""
        return None

    def flow_location(self, flow_name: str) -> str | None:
        """The location :meth:`add_flow` returns for flow ``flow_name``: by default
        :meth:`location_name` (Docker: the flow's path in the image; Webhook: its name)."""
        return self.location_name()

    def missing_script_location(self) -> str | None:
        """The seed's error message when ``stored_as_script=True`` names no script, or None
        when this class needs no script location of its own."""
        return None

    def _check_script_location(self, source: ScriptSource | None) -> None:
        """Raise the seed's ``ValueError`` for a script flow with neither a known source (the
        file ``flowpack register -p`` loaded) nor a script location on the storage."""
        message = self.missing_script_location() if self.stored_as_script else None
        if message and source is None:
            raise ValueError(message)

    def script_path(self, flow: Any) -> str:
        """The file that defines ``flow``, for script packing without a known source."""
        from flowpack.packer.packing import script_file

        return script_file(flow)

    # -- the seed API ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def logger(self) -> logging.Logger:
        """This class's logger, ``flowpack.storage.<Class>`` (the seed's ``prefect.<Class>``)."""
        return logging.getLogger(f"flowpack.storage.{type(self).__name__}")

    def serialize(self) -> dict[str, Any]:
        """The storage as the seed's ``StorageSchema`` dumped it: ``type``, ``__version__``,
        ``flows``, ``secrets`` (names) and the class's own arguments (:attr:`SERIALIZED`).
        Values of option keys that look like credentials are masked: nothing secret leaves."""
        from flowpack import __version__

        doc: dict[str, Any] = {
            "type": self.name,
            "__version__": __version__,
            "flows": dict(self.flows),
            "secrets": list(self.secrets),
        }
        for field in self.SERIALIZED:
            doc[field] = masked(getattr(self, field, None))
        return doc

    @property
    def labels(self) -> list[str]:
        """The user's labels plus the default labels (if enabled), sorted, each once."""
        extra = self.default_labels if self.add_default_labels else []
        return sorted({*self._labels, *extra})

    @property
    def store(self) -> Store:
        """The store flows are packed into (opened on first use)."""
        if self._store is None:
            self._store = self.open_store()
        return self._store

    def bind(self, store: Store) -> None:
        """Use ``store`` unless this storage names a store of its own."""
        if self._store is None and self.store_url() is None:
            self._store = store

    def add_flow(self, flow: Any) -> str:
        """Pack ``flow`` into the store; return its location (:meth:`flow_location`, else the
        bundle digest)."""
        if flow.name in self:
            raise ValueError(
                f'Name conflict: Flow with the name "{flow.name}" is already present in this '
                "storage."
            )
        result = self.pack(flow)
        location = self.flow_location(flow.name) or str(result.digest)
        self.flows[flow.name] = location
        self._digests[flow.name] = str(result.digest)
        self._flows[flow.name] = flow
        return location

    def digest_of(self, flow_name: str) -> str:
        """The bundle digest of the added flow ``flow_name`` (its location may be a key)."""
        return self._locate(flow_name)[1]

    def flow_digests(self) -> dict[str, str]:
        """Each flow's name -> its bundle digest (whatever its location)."""
        return {name: self._digests.get(name, loc) for name, loc in self.flows.items()}

    def build(self) -> Storage:
        """Check every added flow is in the store; return this storage."""
        if self.flows:
            wanted = [self.store.resolve(d) for d in self.flow_digests().values()]
            missing = self.store.missing(wanted)
            if missing:
                raise NotFound(
                    f"flow bundles missing from the store: {', '.join(map(str, missing))}"
                )
        return self

    def get_flow(self, name_or_location: str | None = None) -> Any:
        """Load a flow, verified, by its name in this storage or by its location (digest)."""
        from flowpack.packer.loading import load_flow
        from flowpack.packer.trust import check_bundle

        name, location = self._locate(name_or_location)
        digest = self.store.resolve(location)
        check_bundle(self.store, digest)
        return load_flow(self.store, digest, name).flow

    def _load_exported(self, key: str | None, fetch: Callable[[], Digest]) -> Any:
        """``get_flow`` for a pickle also exported at this storage's key or path: from the
        store when it holds the registered bundle, else imported by ``fetch()`` (which returns
        the imported root) and refused unless it is the registered digest
        (:class:`IntegrityError` naming both)."""
        from flowpack.packer.loading import load_flow

        name, location = self._locate(key)
        if not location.startswith("blake3:"):
            return load_flow(self.store, fetch(), name).flow
        try:
            digest = self.store.resolve(location)
        except NotFound:
            digest = fetch()
            if str(digest) != location:
                raise IntegrityError(
                    f"the flow at {self.location_name()} is bundle {digest}, not the registered"
                    f" {location}: it was changed after registration; refusing it"
                ) from None
        return load_flow(self.store, digest, name).flow

    def _locate(self, key: str | None) -> tuple[str | None, str]:
        if key is None:
            if len(self.flows) == 1:
                key = next(iter(self.flows))
            else:
                raise FlowNotFound(
                    f"name the flow to get; this Storage holds: {names_text(self.flows)}"
                )
        if key in self.flows:
            return key, self._digests.get(key, self.flows[key])
        named = [n for n, loc in self.flows.items() if loc == key]
        if len(named) == 1:
            return named[0], self._digests.get(named[0], key)
        if key.startswith("blake3:") or (looks_like_digest(key) and key in self.flows.values()):
            return None, key
        held = names_text(self.flows) if self.flows else "no flows"
        raise FlowNotFound(f"Flow {key!r} is not contained in this Storage; it holds: {held}")

    def resolve_secrets(self) -> dict[str, str]:
        """The values of :attr:`secrets`, read from the environment now."""
        missing = [s for s in self.secrets if s not in os.environ]
        if missing:
            raise FlowError(f"secret {', '.join(map(repr, missing))} is not set in the environment")
        return {s: os.environ[s] for s in self.secrets}

    def __contains__(self, name: object) -> bool:
        return name in self.flows

    def __getstate__(self) -> dict[str, Any]:
        """Configuration only: no open store, no live flows."""
        state = dict(self.__dict__)
        state["_store"] = None
        state["_flows"] = {}
        return state

    def __repr__(self) -> str:
        return f"<{self.name}: {len(self.flows)} flows>"
