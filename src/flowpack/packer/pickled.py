"""Pickled flows: cloudpickle (protocol 5) in an envelope of versions, as deterministic as can be.

The bundle holds one file, ``flow.pkl``; its metadata (the *envelope*) records the Python
``major.minor``, cloudpickle and flowpack versions it was made with.  Loading compares them
with the running ones *before* unpickling and raises one
:class:`~flowpack.cas.errors.EnvironmentMismatch` naming every difference, never an
unpickling traceback.

Determinism (measured in ``tests/packer/test_pickled.py``, written up in ``docs/flows.md``):

- sets and frozensets (including the frozenset constants of code objects, ``x in {"a", "b"}``)
  are written in an order that depends only on their content, so string hash randomisation
  (``PYTHONHASHSEED``) and id-based hashes do not change the bytes: strings, bytes and numbers
  by value, anything else by its own deterministic pickle, so that ordering never calls user
  code (a Prefect 1.x ``Task.__lt__`` builds a new task); this takes Python's pure-Python
  pickler, with cloudpickle's reducers (the C pickler does not let a subclass see sets);
- a class defined in the flow's script (pickled by value) is named by an id derived from the
  flow, its module and its qualified name, where cloudpickle would draw a random one per
  process, so an unchanged flow that defines a class pickles the same every time (this reads
  the argument layout of cloudpickle's private class reducer: the version range is pinned and
  ``tests/packer/test_pickled.py`` fails loudly if it changes);
- dicts keep their insertion order, which is deterministic whenever the program is (sorting
  them would change what the unpickled program observes); cloudpickle >= 3 orders function
  globals by first use itself;
- a flow's ``storage`` is left out (it names places on this host), as is where the flow's file
  lives; scripts and their modules are compiled under project-relative names
  (:mod:`flowpack.packer.script`, :mod:`flowpack.packer.scope`), and a module's ``__file__``
  is written relative to the project root, so one project pickles the same in any checkout;
- the project's own modules a script imports are pickled by value, so the pickle does not need
  them installed where it is loaded.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import blake3
import cloudpickle

import flowpack
from flowpack.cas.digest import Digest
from flowpack.cas.errors import EnvironmentMismatch, FlowError
from flowpack.cas.store import PushResult, Store
from flowpack.cas.tree import SourceFile
from flowpack.packer.bundle import FlowBundle, LoadedFlow, flow_metadata

PICKLE_FILE = "flow.pkl"
PROTOCOL = 5
ENVELOPE_KEYS = ("python", "cloudpickle", "flowpack")


def current_versions() -> dict[str, str]:
    """The versions an envelope records, for this process."""
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "cloudpickle": str(cloudpickle.__version__),
        "flowpack": flowpack.__version__,
    }


_CloudPickler = cloudpickle.Pickler


class DeterministicPickler(pickle._Pickler):
    """cloudpickle's reducers on Python's own pickler, writing sets in sorted order.

    The C pickler never asks ``reducer_override`` about sets (nor dicts, lists, tuples), so
    sorting them needs the pure-Python pickler, which asks about every object; functions and
    classes are then reduced exactly as :class:`cloudpickle.Pickler` reduces them.
    """

    dispatch_table = _CloudPickler.dispatch_table
    _function_reduce = _CloudPickler._function_reduce
    _dynamic_function_reduce = _CloudPickler._dynamic_function_reduce

    def __init__(
        self,
        file: io.BytesIO,
        protocol: int = PROTOCOL,
        root: str | None = None,
        scope: str = "",
        ordering: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(file, protocol=protocol)
        self.globals_ref: dict[int, Any] = {}
        self.proto = protocol
        self.root = root
        self.scope = scope
        #: ids of the sets whose order is being computed above this pickler (cycle guard)
        self.ordering = ordering

    def _function_getnewargs(self, func: Any) -> Any:
        """cloudpickle's, with a module's ``__file__`` made relative to the project root."""
        newargs = _CloudPickler._function_getnewargs(self, func)
        base = newargs[1]
        file = base.get("__file__") if isinstance(base, dict) else None
        if self.root and isinstance(file, str) and _inside(file, self.root):
            base["__file__"] = Path(os.path.relpath(file, self.root)).as_posix()
        return newargs

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is set or kind is frozenset:
            return kind, (self.ordered(obj),)
        reduced = _CloudPickler.reducer_override(self, obj)
        if isinstance(obj, type) and isinstance(reduced, tuple) and len(reduced) > 1:
            return (reduced[0], self._stable_tracker(obj, reduced[1]), *reduced[2:])
        return reduced

    def ordered(self, items: set[Any] | frozenset[Any]) -> list[Any]:
        """``items`` in an order that depends only on their content (module docstring)."""
        if all(type(x) in _SCALARS for x in items):
            return sorted(items, key=lambda x: (type(x).__name__, x))
        if id(items) in self.ordering:  # a set reached again while ordering it: keep order
            return list(items)
        inner = self.ordering | {id(items)}
        return sorted(items, key=lambda x: self._key(x, inner))

    def _key(self, item: Any, ordering: frozenset[int]) -> bytes:
        buf = io.BytesIO()
        DeterministicPickler(buf, self.proto, self.root, self.scope, ordering).dump(item)
        return buf.getvalue()

    def _stable_tracker(self, cls: type, args: Any) -> Any:
        """cloudpickle's skeleton arguments with its random per-process class id replaced by
        one derived from the flow, the class's module and its qualified name."""
        if not isinstance(args, tuple):
            return args
        tracker = blake3.blake3(
            f"{self.scope}\0{cls.__module__}\0{cls.__qualname__}".encode()
        ).hexdigest()[:32]
        return tuple(tracker if _is_tracker_id(a) else a for a in args)


_SCALARS = frozenset({str, bytes, int, float, bool, type(None)})
_TRACKER = re.compile(r"^[0-9a-f]{32}$")


def _is_tracker_id(value: Any) -> bool:
    return isinstance(value, str) and _TRACKER.match(value) is not None


def _inside(path: str, root: str) -> bool:
    return os.path.isabs(path) and os.path.commonpath([root, path]) == root


def dumps(flow: Any, by_value: Sequence[str] = (), root: Path | None = None) -> bytes:
    """The deterministic pickle of ``flow``: modules ``by_value`` are pickled by value, and
    files under ``root`` (the project root) are named relative to it."""
    buf = io.BytesIO()
    scope = str(getattr(flow, "name", ""))
    with _without_storage(flow), _by_value(by_value):
        DeterministicPickler(buf, PROTOCOL, str(root) if root else None, scope).dump(flow)
    return buf.getvalue()


@contextmanager
def _without_storage(flow: Any) -> Iterator[None]:
    storage = getattr(flow, "storage", None)
    if storage is None:
        yield
        return
    try:
        flow.storage = None
    except Exception:
        yield
        return
    try:
        yield
    finally:
        flow.storage = storage


@contextmanager
def _by_value(names: Sequence[str]) -> Iterator[None]:
    registered = []
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            continue
        try:
            cloudpickle.register_pickle_by_value(module)
        except ValueError:
            continue
        registered.append(module)
    try:
        yield
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)


def pack_pickle(
    store: Store,
    flow: Any,
    *,
    by_value: Sequence[str] = (),
    root: Path | None = None,
    parent: Digest | None = None,
) -> PushResult:
    """Store ``flow`` as a pickle bundle (``parent``: the previous version, for deltas)."""
    try:
        data = dumps(flow, by_value, root)
    except Exception as exc:
        raise FlowError(f"cannot pickle flow {flow.name!r}: {type(exc).__name__}: {exc}") from exc
    meta = flow_metadata(
        kind="pickle", name=flow.name, file=PICKLE_FILE, protocol=PROTOCOL, **current_versions()
    )
    return store.put_files([SourceFile.from_bytes(PICKLE_FILE, data)], metadata=meta, parent=parent)


def check_envelope(info: dict[str, Any], name: str) -> None:
    """Raise :class:`EnvironmentMismatch` naming every version that differs from this process."""
    here = current_versions()
    diffs = [
        (key, str(info.get(key)), here[key]) for key in ENVELOPE_KEYS if info.get(key) != here[key]
    ]
    if not diffs:
        return
    then = ", ".join(f"{k} {v}" for k, v, _ in diffs)
    now = ", ".join(f"{k} {h}" for k, _, h in diffs)
    raise EnvironmentMismatch(
        f"cannot load pickled flow {name!r}: it was pickled under {then}, but this environment"
        f" has {now}; register it again here, or store it as a script (stored_as_script=True)"
    )


def load_pickle(store: Store, bundle: FlowBundle) -> LoadedFlow:
    """Check the envelope, read ``flow.pkl`` verified, and unpickle it."""
    check_envelope(bundle.info, bundle.name)
    data = store.read_file(bundle.digest, str(bundle.info.get("file", PICKLE_FILE)))
    try:
        flow = cloudpickle.loads(data)
    except ImportError as exc:
        raise FlowError(
            f"cannot load pickled flow {bundle.name!r}: {exc}; a module it uses by reference is"
            " not installed here (or store the flow as a script)"
        ) from exc
    except Exception as exc:
        raise FlowError(
            f"cannot load pickled flow {bundle.name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    return LoadedFlow(flow, bundle)
