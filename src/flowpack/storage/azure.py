"""`Azure`: flows kept in an Azure Blob Storage container.

``Azure(container, connection_string_secret=None, blob_name=None, overwrite=False,
stored_as_script=False, **kwargs)``, with the seed's meanings (see
:mod:`flowpack.storage.bucket` for ``blob_name``, which plays the part of ``key``, and where
the store lives):

- the connection string is read, when the store is opened, from the environment variable named
  by ``connection_string_secret``, else from ``AZURE_STORAGE_CONNECTION_STRING``; it is never
  kept on the object (nor in a pickle of it), and never shown;
- ``overwrite=False`` (the default) refuses to replace an existing blob at ``blob_name`` whose
  content differs, with a clear error; the same content is left alone.
"""

from __future__ import annotations

import os
from typing import Any

from flowpack.cas.errors import UsageError
from flowpack.storage.bucket import BucketStorage

ENV_CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"


class Azure(BucketStorage):
    """Flows in the Azure Blob container ``container``."""

    scheme = "az"

    def __init__(
        self,
        container: str,
        connection_string_secret: str | None = None,
        blob_name: str | None = None,
        overwrite: bool = False,
        stored_as_script: bool = False,
        **kwargs: Any,
    ) -> None:
        self.container = container
        self.connection_string_secret = connection_string_secret
        self.blob_name = blob_name
        super().__init__(
            container,
            blob_name,
            stored_as_script=stored_as_script,
            overwrite=overwrite,
            **kwargs,
        )

    SERIALIZED = ("container", "connection_string_secret", "blob_name", "stored_as_script")

    uploads_scripts = False

    def follow_args(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "blob_name": self.blob_name,
            "connection_string_secret": self.connection_string_secret,
            "prefix": self.prefix,
        }

    def missing_script_location(self) -> str | None:
        if self.blob_name:
            return None
        return "A `blob_name` must be provided to show where flow `.py` file is stored in Azure."

    def storage_options(self) -> dict[str, Any]:
        name = self.connection_string_secret
        if not name:
            return {}  # AZURE_STORAGE_CONNECTION_STRING and the rest, as adlfs reads them
        value = os.environ.get(name)
        if not value:
            raise UsageError(
                f"secret {name!r} (the Azure connection string) is not set in the environment"
            )
        return {"connection_string": value}
