"""``az://container/prefix``: a store in an Azure Blob Storage container, through adlfs.

Credentials come from where adlfs looks: ``AZURE_STORAGE_CONNECTION_STRING`` (which may also
point at any compatible endpoint, such as Azurite, with ``BlobEndpoint=``), else
``AZURE_STORAGE_ACCOUNT_NAME`` with ``AZURE_STORAGE_ACCOUNT_KEY``, ``AZURE_STORAGE_SAS_TOKEN``, a
service principal (``AZURE_STORAGE_CLIENT_ID``...) or the default Azure credential chain.  The
URL's options override them (``account_name``, ``account_key``, ``sas_token``, ``anon``, and
``endpoint_url``, the account's blob endpoint, e.g. ``http://127.0.0.1:10000/devstoreaccount1``);
``storage_options`` may give any ``adlfs.AzureBlobFileSystem`` argument, ``connection_string``
included.

Create-only writes carry ``If-None-Match: *``; blobs over 8 MiB are staged in 4 MiB blocks, up to
4 at a time, and committed with the same precondition.  Refs are created with
``If-None-Match: *`` and updated or deleted with ``If-Match: <etag>``.  The SDK's own retry
policy is switched off: :mod:`flowpack.backends.retrying` is the only retry loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import fsspec.asyn
from adlfs import AzureBlobFileSystem
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob.aio import BlobServiceClient

from flowpack.backends.bucket.assemble import bucket_pair
from flowpack.backends.bucket.errors import refused
from flowpack.backends.bucket.sessions import SESSIONS, Lease
from flowpack.backends.bucket.url import BucketUrl, parse_bucket_url
from flowpack.cas.errors import UsageError
from flowpack.cas.location import Location
from flowpack.cas.protocols import BlobInfo, Token

__all__ = ["AzureOps", "azure_session", "open_azure"]

SCHEMES = ("az", "abfs")
OPTIONS = frozenset({"account_name", "account_key", "sas_token", "anon", "endpoint_url"})
SINGLE_PUT = 8 << 20
BLOCK_SIZE = 4 << 20
#: Seconds to wait for a client to close.
_CLOSE_TIMEOUT = 10.0
#: An ETag no blob has, for the precondition probe.
_NEVER_ETAG = '"0x0"'


class _AzureFileSystem(AzureBlobFileSystem):  # type: ignore[misc]
    """adlfs with a client built for flowpack: no SDK retries, blocks sized for packs.

    ``account_url`` (an extra argument) is the account's blob endpoint when it is not
    ``https://<account>.blob.core.windows.net`` and no connection string gives it.
    """

    def __init__(self, *args: Any, account_url: str | None = None, **kwargs: Any) -> None:
        self._account_url = account_url
        super().__init__(*args, **kwargs)

    def do_connect(self) -> None:
        options: dict[str, Any] = {
            "retry_total": 0,
            "max_single_put_size": SINGLE_PUT,
            "max_block_size": BLOCK_SIZE,
        }
        if self.connection_string:
            self.service_client = BlobServiceClient.from_connection_string(
                self.connection_string, **options
            )
            return
        if not self.account_name:
            raise UsageError(
                "no Azure account: set AZURE_STORAGE_CONNECTION_STRING, or give account_name"
            )
        url = self._account_url or (
            f"https://{self.account_host}"
            if getattr(self, "account_host", None)
            else f"https://{self.account_name}.blob.core.windows.net"
        )
        credential: Any = self.credential
        if credential is None and self.account_key:
            credential = AzureNamedKeyCredential(self.account_name, self.account_key)
        if credential is None and self.sas_token:
            url = f"{url}?{self.sas_token.lstrip('?')}"
        self.service_client = BlobServiceClient(url, credential=credential, **options)


def azure_session(url: BucketUrl, storage_options: Mapping[str, Any] | None = None) -> Lease:
    """A lease on an ``AzureBlobFileSystem`` for ``url``, without the SDK's retries or listings
    cache (shared by the locations opened with the same options and ``AZURE_*`` environment)."""
    kwargs: dict[str, Any] = {"use_listings_cache": False}
    for name in ("account_name", "account_key", "sas_token"):
        if url.text(name):
            kwargs[name] = url.text(name)
    if url.text("endpoint_url"):
        kwargs["account_url"] = url.text("endpoint_url")
    anon = url.flag("anon")
    if anon is not None:
        kwargs["anon"] = anon
    kwargs.update(storage_options or {})
    try:
        return SESSIONS.acquire(_new_filesystem, kwargs, ("AZURE_",), _close_filesystem)
    except ValueError as exc:  # adlfs's "unable to connect": a configuration problem
        raise UsageError(
            f"cannot open {url.redacted}: {type(exc.__cause__ or exc).__name__}"
        ) from exc


def _new_filesystem(**kwargs: Any) -> Any:
    return _AzureFileSystem(skip_instance_cache=True, **kwargs)


def _close_filesystem(fs: Any) -> None:
    """Close the filesystem's service client and its transport (HTTP session)."""
    client = getattr(fs, "service_client", None)
    if client is not None:
        fsspec.asyn.sync(fs.loop, client.close, timeout=_CLOSE_TIMEOUT)


class AzureOps:
    """:class:`~flowpack.backends.bucket.ops.BucketOps` over adlfs's Azure SDK client."""

    def __init__(self, fs: Any, container: str) -> None:
        self.fs = fs
        self.container = container

    def _sync(self, fn: Any, *args: Any) -> Any:
        return fsspec.asyn.sync(self.fs.loop, fn, *args)

    def _blob(self, key: str) -> Any:
        return self.fs.service_client.get_blob_client(container=self.container, blob=key)

    def list(self, prefix: str) -> list[BlobInfo]:
        """``List Blobs`` pages under ``prefix``."""

        async def run() -> list[BlobInfo]:
            cc = self.fs.service_client.get_container_client(self.container)
            async with cc:
                return [
                    BlobInfo(b.name, int(b.size), b.last_modified.timestamp())
                    async for b in cc.list_blobs(name_starts_with=prefix)
                ]

        return self._sync(run)  # type: ignore[no-any-return]

    def read(self, key: str) -> tuple[bytes, Token] | None:
        """``Get Blob``; its ETag is the token."""

        async def run() -> tuple[bytes, Token] | None:
            async with self._blob(key) as bc:
                try:
                    stream = await bc.download_blob()
                except Exception as exc:
                    if refused(exc, 404):
                        return None
                    raise
                data = await stream.readall()
                return bytes(data), str(stream.properties.etag)

        return self._sync(run)  # type: ignore[no-any-return]

    def _upload(self, key: str, data: bytes, **condition: Any) -> bool:
        async def run() -> bool:
            async with self._blob(key) as bc:
                try:
                    await bc.upload_blob(data, **condition)
                except Exception as exc:
                    if condition and refused(exc, 404, 409, 412):
                        return False
                    raise
                return True

        return self._sync(run)  # type: ignore[no-any-return]

    def create(self, key: str, data: bytes) -> bool:
        """``Put Blob`` with ``If-None-Match: *``."""
        return self._upload(key, data, overwrite=False)

    def replace(self, key: str, data: bytes, token: Token) -> bool:
        """``Put Blob`` with ``If-Match: <etag>``."""
        return self._upload(
            key, data, overwrite=True, etag=token, match_condition=MatchConditions.IfNotModified
        )

    def delete(self, key: str, token: Token) -> bool:
        """``Delete Blob`` with ``If-Match: <etag>``."""

        async def run() -> bool:
            async with self._blob(key) as bc:
                try:
                    await bc.delete_blob(etag=token, match_condition=MatchConditions.IfNotModified)
                except Exception as exc:
                    if refused(exc, 404, 412):
                        return False
                    raise
                return True

        return self._sync(run)  # type: ignore[no-any-return]

    def write(self, key: str, data: bytes) -> None:
        """``Put Blob``."""

        async def run() -> None:
            async with self._blob(key) as bc:
                await bc.upload_blob(data, overwrite=True)

        self._sync(run)

    def remove(self, key: str) -> None:
        """``Delete Blob``; absent is fine."""

        async def run() -> None:
            async with self._blob(key) as bc:
                try:
                    await bc.delete_blob()
                except Exception as exc:
                    if not refused(exc, 404):
                        raise

        self._sync(run)

    def probe(self, key: str) -> bool:
        """``Put Blob`` with an ``If-Match`` no blob satisfies."""
        if self.replace(key, b"", _NEVER_ETAG):
            self.remove(key)
            return False
        return True


def open_azure(url: str, *, storage_options: Mapping[str, Any] | None = None) -> Location:
    """Open the store at ``az://container/prefix``; see the module docstring for the options.

    Nothing is requested until first use; the location owns its session (shared with the
    locations opened with the same arguments) and its ``close()`` releases it.  Raises
    :class:`UsageError` for a malformed URL or when no account is configured.
    """
    parsed = parse_bucket_url(url, SCHEMES, OPTIONS)
    lease = azure_session(parsed, storage_options)
    try:
        return bucket_pair(
            parsed,
            lease,
            AzureOps(lease.fs, parsed.bucket),
            endpoint=str(lease.fs.service_client.primary_endpoint),
            put_options={"max_concurrency": 4},
        )
    except BaseException:
        lease.release()
        raise
