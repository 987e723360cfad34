"""`GCS`: flows kept in a Google Cloud Storage bucket.

``GCS(bucket, key=None, project=None, stored_as_script=False, local_script_path=None,
**kwargs)``, with the seed's meanings (see :mod:`flowpack.storage.bucket` for ``key``, script
mode and where the store lives).  Credentials come from where Google's libraries look
(application default credentials, ``gcloud``, the metadata server); ``STORAGE_EMULATOR_HOST``
points the storage at an emulator.  ``project`` is the project requests are billed to.  An
object at ``key`` is replaced when its content changes, as the seed did.
"""

from __future__ import annotations

from typing import Any

from flowpack.storage.bucket import BucketStorage


class GCS(BucketStorage):
    """Flows in the GCS bucket ``bucket``."""

    scheme = "gs"
    SERIALIZED = ("bucket", "key", "project", "stored_as_script")

    def __init__(
        self,
        bucket: str,
        key: str | None = None,
        project: str | None = None,
        stored_as_script: bool = False,
        local_script_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.project = project
        super().__init__(
            bucket,
            key,
            stored_as_script=stored_as_script,
            local_script_path=local_script_path,
            overwrite=True,
            **kwargs,
        )

    def storage_options(self) -> dict[str, Any]:
        return {"project": self.project} if self.project else {}

    def follow_args(self) -> dict[str, Any]:
        return {**super().follow_args(), "project": self.project}
