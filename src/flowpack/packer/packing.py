"""Packing a flow into a bundle: its source (a script and its local imports) or a pickle.

:func:`pack_flow` is what every storage class does to store a flow (the seed's ``Storage``
classes call it from ``Storage.pack``):

- ``as_script``: the file that defines the flow (``source`` when the flow was loaded from a
  script, else ``script_path(flow)``) plus its local import closure and the ``include``
  patterns, as a script bundle (:mod:`~flowpack.packer.script`);
- otherwise a pickle (:mod:`~flowpack.packer.pickled`), with the project modules the flow's
  file imports pickled by value, so the bundle does not need the project to load.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError, UsageError
from flowpack.cas.store import PushResult, Store
from flowpack.packer.closure import script_closure
from flowpack.packer.pickled import pack_pickle
from flowpack.packer.script import ScriptSource, pack_script


def pack_flow(
    store: Store,
    flow: Any,
    *,
    as_script: bool,
    source: ScriptSource | None = None,
    script_path: Callable[[Any], str] | None = None,
    include: Sequence[str] = (),
    parent: Digest | None = None,
) -> PushResult:
    """Store ``flow`` in ``store`` as a script or a pickle bundle (see the module docstring).

    ``source`` is the script the flow was loaded from, when known; ``script_path(flow)`` names
    the file to pack as a script otherwise (default: :func:`script_file`); ``parent`` is the
    previous version's bundle, for delta compression.  Raises :class:`UsageError` when the
    script cannot be found, :class:`FlowError` when the flow cannot be pickled.  Uploads only
    what ``store`` lacks; one write session (joins an open :meth:`Store.batch`).
    """
    if as_script:
        if source is None:
            source = ScriptSource.from_path((script_path or script_file)(flow))
        return pack_script(store, source, flow.name, include=include, parent=parent)
    if source is not None:
        with source.scope.active():
            return pack_pickle(
                store, flow, by_value=source.closure.modules, root=source.root, parent=parent
            )
    modules, root = local_modules(flow)
    return pack_pickle(store, flow, by_value=modules, root=root, parent=parent)


def script_file(flow: Any) -> str:
    """The file that defines ``flow``; :class:`UsageError` when it cannot be told."""
    found = defining_file(flow)
    if found is None:
        raise UsageError(
            f"cannot tell which file defines flow {flow.name!r}; give the storage a path"
        )
    return found


def defining_file(flow: Any) -> str | None:
    """The file that defines ``flow``: where a flowpack Flow was created, or a Prefect 2/3
    flow's function was written."""
    found = getattr(flow, "_source_file", None)
    if isinstance(found, str) and Path(found).is_file():
        return found
    fn = getattr(flow, "fn", None)
    if fn is not None:
        try:
            return inspect.getsourcefile(fn)
        except TypeError:
            return None
    return None


def local_modules(flow: Any) -> tuple[tuple[str, ...], Path | None]:
    """The project modules the flow's file imports (to pickle by value) and its project root;
    none when the file is unknown."""
    file = defining_file(flow)
    if file is None:
        return (), None
    try:
        closure = script_closure(Path(file))
    except (FlowError, UsageError):
        return (), None
    return closure.modules, closure.root
