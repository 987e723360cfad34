"""`Local`: flows kept in a store in a local directory, labelled with this machine's hostname.

``Local(directory=None, validate=True, path=None, stored_as_script=False, **kwargs)``:

- ``directory``: the store's directory.  The seed defaulted to ``~/.prefect/flows``; flowpack
  defaults to the store everything else uses (``$FLOWPACK_STORE``, else the per-user default
  ``~/.local/share/flowpack/store``), so that ``flowpack run`` finds what ``Local()`` stored
  without any option.  ``flowpack register`` uses its ``--store`` for a ``Local()`` without a
  directory, and copies the bundle there when the directory names another store.
- ``validate``: make ``directory`` absolute and create it now (default true).
- ``path``: with ``stored_as_script=True``, the flow file to bundle, as a file path
  (``flows/my_flow.py``) or a module path (``myrepo.mymodule.myflow``); ``flowpack register -p``
  bundles the file it loaded.  Otherwise the pickled flow is *also* written to ``path`` as a
  self-contained, verifiable export (``flowpack import`` reads it), and ``get_flow`` imports it
  from there when the store lacks it.  One flow per path, as in the seed.
- default label: the hostname (``add_default_labels=False`` turns it off), which restricts
  runs to agents on this machine, as documented by the seed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from flowpack.cas.errors import NotFound
from flowpack.cas.transfer import export_bundle, import_bundle
from flowpack.packer.environment import hostname
from flowpack.storage.base import Storage


class Local(Storage):
    """Flows in a store in a local directory (see the module docstring)."""

    def __init__(
        self,
        directory: str | None = None,
        validate: bool = True,
        path: str | None = None,
        stored_as_script: bool = False,
        **kwargs: Any,
    ) -> None:
        if directory is not None and validate:
            directory = os.path.abspath(os.path.expanduser(directory))
            os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.validate = validate
        self.path = path
        super().__init__(stored_as_script=stored_as_script, **kwargs)

    SERIALIZED = ("directory", "path", "stored_as_script")

    def store_url(self) -> str | None:
        return self.directory

    def location_name(self) -> str | None:
        return self.path

    def follow_info(self) -> dict[str, Any] | None:
        """Where runs find the script (a file ``path`` with ``stored_as_script=True``): it is
        recorded with the registration, and each run packs the file as it is then
        (:mod:`flowpack.storage.script_follow`)."""
        if not self.stored_as_script or not self.path or not os.path.isfile(self.path):
            return None
        return {"kind": "local-script", "path": os.path.abspath(self.path), "include": self.include}

    def missing_script_location(self) -> str | None:
        if self.path:
            return None
        return "A `path` must be provided to show where flow `.py` file is stored."

    @property
    def default_labels(self) -> list[str]:
        return [hostname()]

    def script_path(self, flow: Any) -> str:
        if self.path is None:
            return super().script_path(flow)
        if os.path.isfile(self.path) or self.path.endswith(".py"):
            return self.path
        spec = importlib.util.find_spec(self.path)
        if spec is None or not spec.origin:
            raise NotFound(f"path {self.path!r} is neither a file nor an importable module")
        return spec.origin

    def add_flow(self, flow: Any) -> str:
        location = super().add_flow(flow)
        if not self.stored_as_script and self.path:
            out = Path(self.path)
            out.parent.mkdir(parents=True, exist_ok=True)
            export_bundle(self.store, self.store.resolve(self.digest_of(flow.name)), out)
        return location

    def get_flow(self, name_or_location: str | None = None) -> Any:
        path = self.path
        if not self.stored_as_script and path and os.path.isfile(path):
            return self._load_exported(
                name_or_location, lambda: import_bundle(self.store, Path(path))
            )
        return super().get_flow(name_or_location)
