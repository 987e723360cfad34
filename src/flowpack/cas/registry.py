"""Finding the adapter for a store URL: :func:`open_location`, the one door to every place.

Adapter families register an ``open(url, **options) -> Location`` function in the
``flowpack.backends`` entry-point group under their URL scheme (``file``, ``memory``, ``s3``,
``oci+https``, ...), so the core imports no backend: an adapter is imported only when a URL of
its scheme is opened.  A plain path (no ``scheme://``) opens with ``file``.  ``options`` are the
family's keyword options (credentials, endpoints: fsspec's ``storage_options`` is the model);
an opener refuses options it does not know with :class:`UsageError`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

from flowpack.cas.errors import MissingDependency, UsageError
from flowpack.cas.location import Location
from flowpack.cas.urls import redact

__all__ = ["GROUP", "extra_for_scheme", "known_schemes", "open_location", "url_scheme"]

GROUP = "flowpack.backends"
DEFAULT_SCHEME = "file"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: The pip extra that provides each scheme's optional dependencies.
_EXTRAS = {
    "s3": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "oci+http": "oci",
    "oci+https": "oci",
    "http": "server",
    "https": "server",
}

Opener = Callable[..., Location]


def url_scheme(url: str) -> str:
    """The lowercased scheme of ``url``; ``file`` for a plain path (``/srv/x``, ``C:\\x``)."""
    m = _SCHEME.match(url)
    return m.group(1).lower() if m else DEFAULT_SCHEME


def extra_for_scheme(scheme: str) -> str | None:
    """The ``flowpack[EXTRA]`` that provides ``scheme``, or None if the core has it."""
    if scheme.startswith("git+"):
        return "git"
    return _EXTRAS.get(scheme)


def known_schemes() -> list[str]:
    """The schemes of every installed adapter, sorted."""
    return sorted(_entry_points())


def open_location(url: str, **options: Any) -> Location:
    """Open the place at ``url`` with the adapter registered for its scheme.

    ``options`` go to the adapter's opener (``storage_options=...`` for the bucket families).

    Raises :class:`UsageError` for a scheme no installed adapter handles (the message lists
    the known ones), :class:`MissingDependency` with the ``pip install 'flowpack[EXTRA]'``
    line when the adapter's optional dependencies are missing, and whatever the adapter raises
    for a bad URL or an unreachable store.  Messages carry the URL redacted.
    """
    scheme = url_scheme(url)
    builtin = _BUILTIN.get(scheme)
    if builtin is not None:  # no scan of every installed distribution's metadata (~30 ms)
        module, _, name = builtin.partition(":")
        opener = cast(Opener, getattr(importlib.import_module(module), name))
        return opener(url, **options)
    found = _entry_points().get(scheme)
    if found is None:
        raise UsageError(
            f"no storage backend for {scheme}:// (in {redact(url)}); known schemes: "
            + ", ".join(known_schemes())
        )
    try:
        opener = cast(Opener, found.load())
        return opener(url, **options)
    except MissingDependency:
        raise
    except ImportError as exc:  # at import, or a dependency the opener imports lazily
        raise MissingDependency(_missing_message(scheme, exc)) from exc


#: Adapters shipped in this package that need no optional dependency; the same entries are
#: registered as entry points, which is how every other adapter is found.
_BUILTIN = {
    "file": "flowpack.backends.local:open_local",
    "memory": "flowpack.backends.memory:open_memory",
}


def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points  # ~25 ms: only for non-built-in schemes

    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name.lower(), ep)  # an editable install may list one twice
    return found


def _missing_message(scheme: str, exc: ImportError) -> str:
    what = f" ({exc.name})" if exc.name else ""
    extra = extra_for_scheme(scheme)
    if extra is None:
        return f"the {scheme}:// backend failed to import{what}: {exc}"
    return (
        f"the {scheme}:// backend needs an optional dependency{what}: "
        f"install it with: pip install 'flowpack[{extra}]'"
    )
