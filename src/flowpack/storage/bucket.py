"""`BucketStorage`: what the seed classes `S3`, `GCS` and `Azure` share.

Flows are kept in a flowpack store inside the bucket, at ``<scheme>://<bucket>/<prefix>``
(``prefix`` defaults to ``flowpack``; ``prefix=""`` puts the store at the bucket's root).  A
flow's location is its bundle digest, derived from its content, never from a timestamp.

``key`` (``blob_name`` for Azure) names an object in the bucket where the flow is *also*
written, for readers that expect a flow at that key:

- a pickled flow is written there as a self-contained, verifiable export (``flowpack import``
  reads it, and ``get_flow`` imports it from there when the store lacks the bundle);
- with ``stored_as_script=True``, the file ``local_script_path`` is uploaded there, as the seed
  did (the flow itself is packed from that file with its local imports, into the store).

An existing object at ``key`` with the same bytes is left alone, so re-registering an unchanged
flow uploads nothing; different bytes are replaced when ``overwrite`` is true (the seed's S3 and
GCS behaviour) and refused with :class:`~flowpack.cas.errors.AlreadyExists` otherwise (the seed's
Azure default).  The store is opened on first use, with the subclass's credentials and
endpoint options; when ``flowpack register`` uses the same store URL as its registry, that
store is shared instead of opened twice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flowpack.cas.digest import Digest
from flowpack.cas.errors import AlreadyExists, MissingDependency, NotFound, UsageError
from flowpack.cas.location import Location
from flowpack.cas.protocols import BlobStore
from flowpack.cas.registry import extra_for_scheme, open_location
from flowpack.cas.store import PushResult, Store
from flowpack.cas.transfer import export_bundle, import_bundle
from flowpack.cas.urls import redact
from flowpack.storage.base import Storage

if TYPE_CHECKING:
    from flowpack.packer.script import ScriptSource

DEFAULT_PREFIX = "flowpack"


class BucketStorage(Storage):
    """A store in a cloud bucket, plus an optional flow object at ``key`` (module docstring).

    Subclasses set :attr:`scheme` and may override :meth:`storage_options` for credentials
    and endpoints.
    """

    scheme: ClassVar[str] = ""

    def __init__(
        self,
        bucket: str,
        key: str | None = None,
        *,
        stored_as_script: bool = False,
        local_script_path: str | None = None,
        overwrite: bool = True,
        prefix: str = DEFAULT_PREFIX,
        **kwargs: Any,
    ) -> None:
        if not bucket:
            raise UsageError(f"{type(self).__name__} needs a bucket name")
        self.bucket = bucket
        self.key = key
        self.local_script_path = local_script_path
        self.overwrite = bool(overwrite)
        self.prefix = prefix.strip("/")
        super().__init__(stored_as_script=stored_as_script, **kwargs)

    SERIALIZED: ClassVar[tuple[str, ...]] = ("bucket", "key", "stored_as_script")

    def location_name(self) -> str | None:
        return self.key

    def missing_script_location(self) -> str | None:
        if self.key or self.local_script_path:
            return None
        return (
            f"A `key` must be provided to show where flow `.py` file is stored in {self.name}"
            " or provide a `local_script_path` pointing to a local script that contains the flow."
        )

    # -- where the store is ------------------------------------------------------------

    def store_url(self) -> str:
        path = f"/{self.prefix}" if self.prefix else ""
        return f"{self.scheme}://{self.bucket}{path}"

    def storage_options(self) -> dict[str, Any]:
        """Extra arguments for the backend's filesystem (credentials, endpoint, project)."""
        return {}

    def open_store(self) -> Store:
        from flowpack.cas.opening import default_cache_dir

        url = self.store_url()
        location = self._open(url)
        return Store.from_location(location, url=redact(url), cache_dir=default_cache_dir())

    def bind(self, store: Store) -> None:
        """Share ``store`` when it is this storage's own store (same URL)."""
        if self._store is None and store.url == redact(self.store_url()):
            self._store = store

    def _open(self, url: str) -> Location:
        try:
            return open_location(url, storage_options=self.storage_options())
        except MissingDependency as exc:
            extra = extra_for_scheme(self.scheme)
            raise MissingDependency(
                f"{type(self).__name__} storage needs an optional dependency: "
                f"install it with: pip install 'flowpack[{extra}]'"
            ) from exc

    # -- packing and the object at ``key`` ----------------------------------------------

    def script_path(self, flow: Any) -> str:
        return self.local_script_path or super().script_path(flow)

    #: Whether a script registered with ``-p`` is uploaded to ``key`` (the seed's S3 and GCS
    #: take the register CLI's path as ``local_script_path``; its Azure uploads no script).
    uploads_scripts: ClassVar[bool] = True

    def follow_info(self) -> dict[str, Any] | None:
        """With ``stored_as_script`` and a ``key``: how a run rebuilds this storage to fetch
        the script from the bucket (no secret values; credentials come from the environment
        where the flow runs), see :mod:`flowpack.storage.script_follow`."""
        if not (self.stored_as_script and self.key):
            return None
        return {"kind": "bucket-script", "class": self.name, "args": self.follow_args()}

    def follow_args(self) -> dict[str, Any]:
        """The constructor arguments :meth:`follow_info` records."""
        return {"bucket": self.bucket, "key": self.key, "prefix": self.prefix}

    @contextmanager
    def fetched_script(self) -> Iterator[ScriptSource]:
        """The script at ``key`` as it is in the bucket now, as a one-file source."""
        from flowpack.packer.script import ScriptSource

        blobs, name = self._key_store()
        with tempfile.TemporaryDirectory(prefix="flowpack-script-") as tmp:
            (Path(tmp) / ".git").mkdir()  # the project root: the script alone
            path = Path(tmp) / name
            path.write_bytes(blobs.get(name))
            yield ScriptSource.from_path(path)

    def pack(self, flow: Any, *, source: Any = None, parent: Digest | None = None) -> PushResult:
        """Pack ``flow`` into the store, then write the object at ``key`` (if any).

        A script with a ``key`` and no ``local_script_path``: the file registered with ``-p``
        is uploaded to ``key`` (:attr:`uploads_scripts`); without one, the script is read from
        the bucket, where the user placed it (as the seed says)."""
        if self.stored_as_script and self.key and not self.local_script_path:
            if source is not None and self.uploads_scripts:
                result = super().pack(flow, source=source, parent=parent)
                self._publish(Path(source.path).read_bytes())
                return result
            from flowpack.packer.script import pack_script

            with self.fetched_script() as fetched:
                return pack_script(
                    self.store, fetched, flow.name, include=self.include, parent=parent
                )
        result = super().pack(flow, source=source, parent=parent)
        if self.key:
            if not self.stored_as_script:
                self._publish(self._export(result.digest))
            elif self.local_script_path:
                self._publish(Path(self.local_script_path).read_bytes())
        return result

    def get_flow(self, name_or_location: str | None = None) -> Any:
        """As :meth:`Storage.get_flow`; a pickled flow missing from the store is imported
        from its export at ``key``."""
        if self.key and not self.stored_as_script:
            return self._load_exported(name_or_location, self._import_from_key)
        return super().get_flow(name_or_location)

    def _export(self, digest: Digest) -> bytes:
        with tempfile.TemporaryDirectory(prefix="flowpack-export-") as tmp:
            out = Path(tmp) / "flow.pack"
            export_bundle(self.store, digest, out)
            return out.read_bytes()

    def _key_store(self) -> tuple[BlobStore, str]:
        """A blob store on the folder of ``key``, and the key's name in it."""
        assert self.key is not None
        folder, _, name = self.key.strip("/").rpartition("/")
        if not name:
            raise UsageError(f"{type(self).__name__} key {self.key!r} names no object")
        path = f"/{folder}" if folder else ""
        return self._open(f"{self.scheme}://{self.bucket}{path}").blobs, name

    def _publish(self, data: bytes) -> None:
        blobs, name = self._key_store()
        try:
            existing: bytes | None = blobs.get(name)
        except NotFound:
            existing = None
        if existing == data:
            return
        if existing is not None and not self.overwrite:
            raise AlreadyExists(
                f"{self._where()} already exists with other content; pass overwrite=True "
                "to replace it"
            )
        try:
            blobs.put(name, data, create_only=existing is None or not self.overwrite)
        except AlreadyExists:  # created meanwhile by someone else
            if blobs.get(name) != data and not self.overwrite:
                raise AlreadyExists(
                    f"{self._where()} was just written by another client; pass overwrite=True "
                    "to replace it"
                ) from None
            if blobs.get(name) != data:
                blobs.put(name, data, create_only=False)

    def _import_from_key(self) -> Digest:
        blobs, name = self._key_store()
        data = blobs.get(name)
        with tempfile.TemporaryDirectory(prefix="flowpack-import-") as tmp:
            path = Path(tmp) / "flow.pack"
            path.write_bytes(data)
            return import_bundle(self.store, path)

    def _where(self) -> str:
        return f"{self.scheme}://{self.bucket}/{(self.key or '').strip('/')}"
